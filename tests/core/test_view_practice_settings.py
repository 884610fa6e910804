"""ACC2 and ACC6 settings: MFA requirement and idle timeout are the owner's to change."""

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
