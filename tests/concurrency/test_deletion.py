"""RTS4 (part retention): two privacy officers executing the same deletion at once, and the
background task delivered twice at once: one run, each step once, one letter, one closing."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario
from tests.concurrency.test_chart import new_patient


def scenario_execute_at_once(params):
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.models import Patient
    from confide.retention.models import DeletionRun
    from confide.rights.deletion import check_execute_deletion, execute_deletion
    from confide.rights.models import Letter, RightsRequest
    from tests.retention.conftest import delete_request

    world = new_world("deletion")
    patient = new_patient(world)
    req = delete_request(patient)
    actors = [StaffActor.from_membership(world.memberships[role]) for role in (Role.PRIVACY_OFFICER, Role.OWNER)]

    def start(i: int):
        return str(check_execute_deletion(actor=actors[i], request_id=req.pk, expected_version=req.version).pk)

    started = concurrently(2, start)
    run_id = next((o.value for o in started if o.value), None)

    def deliver(i: int):
        execute_deletion.call(str(world.practice.id), run_id)
        return "ok"

    delivered = concurrently(params["n"], deliver) if run_id else []
    with tenant_context(practice_id=world.practice.id):
        runs = list(DeletionRun.objects.values_list("state", "steps_done"))
        letters = Letter.objects.filter(request_id=req.pk).count()
        status = RightsRequest.objects.get(pk=req.pk).status
        active = Patient.objects.get(pk=patient.pk).is_active
    steps = sorted(e.detail["step"] for e in AuditEntry.objects.filter(event=AuditEvent.DELETION_STEP, subject_id=patient.pk))
    return {
        "started": [o.value for o in started], "start_errors": [o.error for o in started],
        "delivered": [o.value for o in delivered], "deliver_errors": [o.error for o in delivered],
        "runs": runs, "letters": letters, "status": status, "active": active, "steps": steps,
    }  # fmt: skip


def test_rts4_two_officers_and_a_twice_delivered_task_make_one_execution(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_execute_at_once, n=3)
    assert len([v for v in result["started"] if v]) == 1, result
    refused = [e for e in result["start_errors"] if e]
    assert len(refused) == 1 and ("changed since" in refused[0] or "already" in refused[0]), refused
    assert result["runs"] == [["done", ["portal", "erase", "archive"]]], result
    assert result["steps"] == ["archive", "erase", "portal"], result
    assert not any(result["deliver_errors"]), result
    assert result["letters"] == 1 and result["status"] == "partly_done" and result["active"] is False, result
