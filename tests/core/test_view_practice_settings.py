"""ACC2 and ACC6 settings: MFA requirement and idle timeout are the owner's to change."""

import pytest
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.models import Practice
from confide.core.permissions import Role


def test_owner_changes_the_idle_timeout(signed_in, world):
    client = signed_in(Role.OWNER)
    response = client.post(reverse("accounts:practice-settings"), {"name": "Practice A", "mfa_required": "on", "idle_timeout_minutes": "30"})
    assert response.status_code == 302
    assert Practice.objects.get(id=world.a.practice.id).idle_timeout_minutes == 30
    changed = AuditEntry.objects.get(event=AuditEvent.PRACTICE_SETTINGS_CHANGED)
    assert (changed.chain, changed.actor_id, changed.actor_role) == (str(world.a.practice.id), str(world.a.owner.pk), "owner")
    assert changed.detail == {"fields": ["idle_timeout_minutes"]}


def test_out_of_range_timeout_is_refused_and_nothing_changes(signed_in, world):
    client = signed_in(Role.OWNER)
    response = client.post(reverse("accounts:practice-settings"), {"name": "Renamed", "mfa_required": "on", "idle_timeout_minutes": "1"})
    assert response.status_code == 400
    assert b"greater than or equal to 5" in response.content
    practice = Practice.objects.get(id=world.a.practice.id)
    assert (practice.name, practice.idle_timeout_minutes) == ("Practice A", 15)
    assert not AuditEntry.objects.filter(event=AuditEvent.PRACTICE_SETTINGS_CHANGED).exists()


def test_clinician_cannot_open_practice_settings(signed_in):
    assert signed_in(Role.CLINICIAN).get(reverse("accounts:practice-settings")).status_code == 403


# Issue 11 item 14: a line break in the practice's name was saved, and later put in the Subject
# header of every material-change e-mail, where Django refused it (the whole task failed).
HOSTILE_NAMES = {
    "a line break (header injection)": "Demo\r\nBcc: everyone@example.test",
    "a bare line feed": "Demo\nPractice",
    "NUL": "Demo\x00Practice",
    "a C1 control (NEL)": "Demo\x85Practice",
    "a right-to-left override": "Demo \u202egnp.exe",
    "an isolate": "Demo \u2066Practice\u2069",
    "only zero-width characters": "\u200b\u200c\u200d",
    "a line separator": "Demo\u2028Practice",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_NAMES))
def test_a_practice_name_with_a_control_character_is_refused_and_nothing_changes(signed_in, world, case):
    client = signed_in(Role.OWNER)
    response = client.post(
        reverse("accounts:practice-settings"), {"name": HOSTILE_NAMES[case], "mfa_required": "on", "idle_timeout_minutes": "15"}
    )
    assert response.status_code == 400
    assert Practice.objects.get(id=world.a.practice.id).name == "Practice A"
    assert not AuditEntry.objects.filter(event=AuditEvent.PRACTICE_SETTINGS_CHANGED).exists()


def test_the_settings_service_refuses_a_control_character_whoever_calls_it(world):
    from confide.core.actors import StaffActor
    from confide.core.errors import InvalidInput
    from confide.accounts.practice import do_update_practice_settings

    owner = StaffActor.from_membership(world.a.memberships[Role.OWNER])
    with pytest.raises(InvalidInput, match="one line"):
        do_update_practice_settings(actor=owner, changes={"name": "Demo\r\nBcc: everyone@example.test"})
    assert Practice.objects.get(id=world.a.practice.id).name == "Practice A"


def test_a_name_in_right_to_left_script_is_kept(signed_in, world):
    client = signed_in(Role.OWNER)
    name = "\u05de\u05e8\u05e4\u05d0\u05d4 \u200fDemo"  # Hebrew with a right-to-left mark: real text, no override
    response = client.post(reverse("accounts:practice-settings"), {"name": name, "mfa_required": "on", "idle_timeout_minutes": "15"})
    assert response.status_code == 302
    assert Practice.objects.get(id=world.a.practice.id).name == name
