"""POL1: the settings page's reads and Preview, in the service: for the owner and the privacy
officer only, scoped to their practice, and Preview never writes."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy import services
from confide.policy.loader import PolicyError
from confide.policy.models import PolicyVersion

RECORDINGS_60 = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'


def _preview(actor, override=RECORDINGS_60, *, days=0.01, material=False, summary="Shorter recordings."):
    return services.preview_policy(
        actor=actor, override_toml=override, effective_at=timezone.now() + datetime.timedelta(days=days), material=material, summary=summary,
    )  # fmt: skip


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING])
def test_only_policy_editors_may_preview_or_read_the_overview(world, role):
    actor = StaffActor.from_membership(world.a.memberships[role])
    with pytest.raises(Forbidden):
        _preview(actor)
    with pytest.raises(Forbidden):
        services.get_policy_overview(actor=actor)


def test_pol1_preview_diffs_against_the_latest_version_and_writes_nothing(world, officer, publish):
    publish('[age]\nminimum = 13\n', days=40, material=True)  # latest is upcoming version 2
    entries = AuditEntry.objects.count()
    preview = _preview(officer, '[age]\nminimum = 13\n' + RECORDINGS_60)
    assert preview.base.number == 2
    assert [str(c) for c in preview.changes] == ["~ retention.telehealth-recordings.period: 90d -> 60d"]
    assert preview.problems == []
    assert preview.notice.version == 3 and {r["label"]: r["period"] for r in preview.notice.retention}["Telehealth session recordings"] == "60 days"
    with tenant_context(practice_id=world.a.practice.id):
        assert PolicyVersion.objects.count() == 2
    assert AuditEntry.objects.count() == entries


def test_preview_lists_every_problem_publish_would_refuse_by_field(officer):
    preview = _preview(officer, "", days=3, material=True, summary="")
    assert [(p.field, " ".join(str(p).split()[:4])) for p in preview.problems] == [
        ("override_toml", "This override changes nothing"),
        ("summary", "Say in a sentence"),
        ("effective_at", "A material change takes"),
    ]


def test_preview_of_an_invalid_override_raises_naming_the_line(officer):
    with pytest.raises(PolicyError) as caught:
        _preview(officer, '[age]\nminimum = 21\n')
    assert caught.value.line == 2


def test_the_overview_is_the_actors_practice_only(world, officer, publish):
    publish(RECORDINGS_60, actor=StaffActor.from_membership(world.b.memberships[Role.PRIVACY_OFFICER]))
    overview = services.get_policy_overview(actor=officer)
    assert [v.number for v in overview.versions] == [1]
    assert {v.practice_id for v in overview.versions} == {world.a.practice.id}
    assert overview.in_force.number == overview.latest.number == 1 and overview.upcoming == []
