"""Two officers closing one rights request at once (issue 17, queue part): the change is one
conditional update on the request's version, so exactly one wins (302) and the others get the
"changed meanwhile" page (409); the request is closed once, with one letter and one
`rights:request:closed` entry."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

OFFICERS = 6


def scenario_close_one_request_from_many_sessions(params):
    import datetime

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient
    from confide.rights.models import Letter, RightsRequest
    from tests.conftest import sign_in

    world = new_world("rights-race")
    practice = world.practice
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=practice.id):
        patient = do_create_patient(actor=clinician, given_name="Race", family_name="Request")
        row = RightsRequest.objects.create(practice=practice, patient=patient, kind="other", channel="phone", verification="staff",
                                           received_at=timezone.now(), due_on=timezone.localdate() + datetime.timedelta(days=30))  # fmt: skip
    url = reverse("rights:request-close", kwargs={"request_id": row.pk})
    roles = [Role.PRIVACY_OFFICER, Role.OWNER]
    clients = [sign_in(Client(), world.user(roles[i % 2]), practice) for i in range(params["n"])]
    outcomes = concurrently(params["n"], lambda i: clients[i].post(url, {"version": 1, "outcome": "done"}).status_code)
    with tenant_context(practice_id=practice.id):
        closed = RightsRequest.objects.get(pk=row.pk)
        kept = Letter.objects.filter(request_id=row.pk).count()
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "status": closed.status,
        "version": closed.version,
        "letters": kept,
        "entries": AuditEntry.objects.filter(event=AuditEvent.RIGHTS_REQUEST_CLOSED, chain=str(practice.id)).count(),
    }


def test_two_officers_closing_at_once_one_wins(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_close_one_request_from_many_sessions, n=OFFICERS)
    assert result["errors"] == []
    assert result["statuses"] == ["302"] + ["409"] * (OFFICERS - 1)
    assert (result["status"], result["version"], result["letters"], result["entries"]) == ("done", 2, 1, 1)
