"""ACC7 (part "intake"): one verification code submitted from eight browsers at the same moment
is used exactly once: one request verified, one audit entry; the seven others are told the link
no longer works, and nothing is verified twice. Real threads, committed requests."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

SESSIONS = 8


def scenario_one_code_submitted_by_many(params):
    from django.test import Client

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.tenancy import tenant_context
    from confide.rights.models import IdentityCheck, RightsRequest
    from tests.portal_world import create_patient
    from tests.rights.helpers_intake import code_from_outbox, email_with_baa, public_form_data

    world = new_world("rights-code")
    email_with_baa(world)
    create_patient(world)
    patient = {"given_name": "Marisol", "family_name": "Quintero", "date_of_birth": "1984-02-11"}
    response = Client().post(f"/p/{world.practice.slug}/privacy/request/", public_form_data(patient, kind="copy"))
    assert response.status_code == 302, response.status_code
    verify, code = response["Location"], code_from_outbox(to="marisol@example.test")
    clients = [Client() for _ in range(params["n"])]
    outcomes = concurrently(params["n"], lambda i: clients[i].post(verify, {"code": code}).status_code)
    with tenant_context(practice_id=world.practice.id):
        made = RightsRequest.objects.get()
        checks = IdentityCheck.objects.count()
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "verification": made.verification, "status": made.status, "patient": made.patient_id is not None, "checks": checks,
        "verified_entries": AuditEntry.objects.filter(practice_id=world.practice.id, event=AuditEvent.RIGHTS_IDENTITY_CHECKED,
                                                      detail__result="verified").count(),
    }  # fmt: skip


def test_acc7_one_code_submitted_eight_times_at_once_verifies_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_code_submitted_by_many, n=SESSIONS)
    assert result["errors"] == []
    assert result["statuses"] == ["200"] + ["404"] * (SESSIONS - 1)
    assert (result["verification"], result["status"], result["patient"], result["checks"]) == ("code", "in_progress", True, 0)
    assert result["verified_entries"] == 1
