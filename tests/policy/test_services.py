"""Versions of a practice's declaration: immutable, in force by date, published by the privacy
officer or owner only, each publication audited."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy import services
from confide.policy.loader import PolicyError
from confide.policy.models import PolicyVersion

RECORDINGS_60 = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'


def _period(declaration, rule):
    return {r.id: r.period for r in declaration.retention}[rule]


def test_pol1_a_new_practice_has_version_one_the_default_in_force(world):
    version = services.version_in_force(world.a.practice.id)
    assert (version.number, version.override_toml, version.material) == (1, "", False)
    assert _period(services.declaration_of(version), "telehealth-recordings") == "90d"


def test_pol1_changing_a_retention_period_makes_a_new_version_and_keeps_the_old(world, publish):
    version = publish(RECORDINGS_60)
    assert version.number == 2
    assert _period(services.declaration_in_force(world.a.practice.id), "telehealth-recordings") == "60d"
    first = services.get_version(world.a.practice.id, 1)
    assert _period(services.declaration_of(first), "telehealth-recordings") == "90d"
    assert _period(services.declaration_in_force(world.b.practice.id), "telehealth-recordings") == "90d"  # B untouched


def test_pol1_versions_are_immutable(world, publish):
    version = publish(RECORDINGS_60)
    version.summary = "rewritten history"
    with pytest.raises(RuntimeError, match="immutable"):
        version.save()
    with pytest.raises(RuntimeError, match="immutable"):
        version.delete()


def test_a_version_takes_effect_on_its_date_and_not_before(world, publish):
    publish(RECORDINGS_60, days=10)
    practice = world.a.practice.id
    assert services.version_in_force(practice).number == 1
    assert [v.number for v in services.upcoming_versions(practice)] == [2]
    later = timezone.now() + datetime.timedelta(days=11)
    assert services.version_in_force(practice, at=later).number == 2
    assert services.upcoming_versions(practice, at=later) == []


def test_publishing_is_audited_with_ids_and_counts_only(world, publish, officer):
    version = publish(RECORDINGS_60)
    entry = AuditEntry.objects.get(event=AuditEvent.POLICY_PUBLISHED)
    assert (entry.chain, entry.actor_id, entry.resource_ids) == (str(world.a.practice.id), str(officer.user_id), [str(version.pk)])
    assert entry.detail == {"number": 2, "material": False, "changes": 1, "material_rules": []}


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING])
def test_only_the_privacy_officer_and_owner_may_publish(world, publish, role):
    with pytest.raises(Forbidden):
        publish(RECORDINGS_60, actor=StaffActor.from_membership(world.a.memberships[role]))
    publish(RECORDINGS_60, actor=StaffActor.from_membership(world.a.memberships[Role.OWNER]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"override": "[age]\nminimum = 21\n"}, "line 2"),
        ({"override": "", "summary": "nothing"}, "changes nothing"),
        ({"override": RECORDINGS_60, "summary": "  "}, "Say in a sentence"),
        ({"override": RECORDINGS_60, "days": -1}, "in the past"),
        ({"override": RECORDINGS_60, "days": 3, "material": True}, "at least 30 days"),
        # issue 11 item 14: the summary goes into every notice e-mail, the contacts onto the notice
        ({"override": RECORDINGS_60, "summary": "Shorter.\r\nBcc: everyone@example.test"}, "The summary: it must be one line"),
        ({"override": RECORDINGS_60, "summary": "Shorter \u202ekept longer"}, "The summary: remove the invisible character"),
        ({"override": '[contacts.privacy_officer]\nname = "Dana \\u202eKhan"\nemail = "dana@example.test"\n'},
         "line 2: contacts.privacy_officer.name: It must be one line|line 2: contacts.privacy_officer.name: Remove the invisible character"),
        ({"override": '[contacts.privacy_officer]\nname = "Dana Khan"\nemail = "dana@example.test\\u0000"\n'}, "line 3: contacts.privacy_officer.email"),
        ({"override": '[contacts.privacy_officer]\nname = "\\u200b"\nemail = "dana@example.test"\n'}, "line 2: contacts.privacy_officer.name: It holds only invisible"),
    ],
)
def test_a_bad_publication_is_refused_and_writes_nothing(world, publish, kwargs, message):
    with pytest.raises((InvalidInput, PolicyError), match=message):
        publish(kwargs.pop("override"), **kwargs)
    with tenant_context(practice_id=world.a.practice.id):
        assert PolicyVersion.objects.count() == 1
    assert not AuditEntry.objects.filter(event=AuditEvent.POLICY_PUBLISHED).exists()


def test_the_same_override_twice_is_refused(publish):
    publish(RECORDINGS_60)
    with pytest.raises(InvalidInput, match="changes nothing"):
        publish(RECORDINGS_60)


def test_diff_names_each_changed_leaf(world, publish):
    publish(RECORDINGS_60 + '\n[[processors]]\nid = "sms"\nin_use = true\n', days=31, material=True)
    first, second = (services.declaration_of(services.get_version(world.a.practice.id, n)) for n in (1, 2))
    assert [str(c) for c in services.diff(first, second)] == [
        "~ processors.sms.in_use: false -> true",
        "~ retention.telehealth-recordings.period: 90d -> 60d",
    ]
    assert services.diff(second, second) == []


def test_pol1_a_practice_may_start_with_its_own_choices_as_version_one(db):
    """`confide demo` does: lowering the age later would be material and wait 30 days."""
    from confide.core.models import Practice

    practice = Practice(slug="own-choices", name="Own Choices")
    practice.first_policy_override = "[age]\nminimum = 13\n"
    practice.save()
    version = services.version_in_force(practice.id)
    assert (version.number, version.override_toml, version.summary) == (1, "[age]\nminimum = 13\n", "First version: the practice's own choices.")
    assert services.declaration_of(version).age.minimum == 13
