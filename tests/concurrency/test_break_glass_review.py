"""Marking a break-the-glass opening reviewed is decided by one conditional UPDATE: reviewers
posting at once (the privacy officer and the owner, in several tabs) mark it exactly once, with
exactly one `access:break-glass:reviewed` entry."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

REVIEWERS = 6


def scenario_review_one_opening_from_many_sessions(params):
    from django.urls import reverse

    from confide.access import policy
    from confide.access.door import open_chart
    from confide.access.models import BreakGlassReason
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient
    from tests.conftest import sign_in
    from django.test import Client

    world = new_world("review")
    practice = world.practice
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=practice.id):
        patient = do_create_patient(actor=clinician, given_name="Review", family_name="Race", health_background="asthma")
    with open_chart(clinician, patient.id, Purpose.OPERATIONS, categories={policy.BACKGROUND}, break_glass_reason="Race test: an emergency"):
        pass
    with tenant_context(practice_id=practice.id):
        opening = BreakGlassReason.objects.get()
    url = reverse("access:break-glass-reviewed", kwargs={"opening_id": opening.pk})
    roles = [Role.PRIVACY_OFFICER, Role.OWNER]
    clients = [sign_in(Client(), world.user(roles[i % 2]), practice) for i in range(params["n"])]
    outcomes = concurrently(params["n"], lambda i: clients[i].post(url).status_code)
    with tenant_context(practice_id=practice.id):
        row = BreakGlassReason.objects.get()
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "reviewed": row.reviewed_at is not None,
        "entries": AuditEntry.objects.filter(event=AuditEvent.BREAK_GLASS_REVIEWED, chain=str(practice.id)).count(),
    }


def test_one_opening_reviewed_by_six_sessions_at_once_is_marked_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_review_one_opening_from_many_sessions, n=REVIEWERS)
    assert result["errors"] == []
    assert result["statuses"] == ["302"] * REVIEWERS
    assert result["reviewed"] is True and result["entries"] == 1
