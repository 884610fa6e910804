"""Part "export" (RTS2): one copy per request, however many workers run its task at once and however
many times staff press "Prepare the copy" at once (the conditional claim of the Export row; the
request row locked while queuing). Real threads, each its own connection."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

THREADS = 5


def scenario_export_run_by_many_at_once(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.rights import export as rexport
    from confide.rights.models import Export, Letter, RightsRequest
    from confide.vault.files import EncryptedStorage
    from tests.portal_world import actor_for, create_patient, link, make_portal_user

    world = new_world("copyrace")
    patient = create_patient(world, given_name="Racer", email="racer@copyrace.test")
    own = link(make_portal_user("racer@copyrace.test"), patient)
    from confide.rights.services import check_open_request

    with tenant_context(practice_id=world.practice.id):
        made = check_open_request(actor=actor_for(own), kind="copy")
        Export.objects.filter(request_id=made.pk).delete()  # start from the staff's button instead
    officer = StaffActor.from_membership(world.memberships[Role.PRIVACY_OFFICER])
    queued = concurrently(params["n"], lambda i: str(rexport.start_export_for_staff(actor=officer, request_id=made.pk).pk))
    export_ids = {o.value for o in queued if o.ok}
    ran = concurrently(params["n"], lambda i: rexport.run_export(next(iter(export_ids)), world.practice.id))
    with tenant_context(practice_id=world.practice.id):
        exports = list(Export.objects.filter(request_id=made.pk))
        letters = Letter.objects.filter(request_id=made.pk, kind="fulfilment").count()
        status = RightsRequest.objects.get(pk=made.pk).status
    stored = [e.stored_name for e in exports if e.stored_name]
    return {
        "errors": [o.error for o in queued + ran if not o.ok],
        "export_ids": sorted(export_ids),
        "exports": len(exports),
        "runs": sorted(o.value for o in ran if o.ok),
        "statuses": [e.status for e in exports],
        "stored_exists": [EncryptedStorage().exists(name) for name in stored],
        "letters": letters,
        "request_status": status,
    }


def test_rts2_one_copy_however_many_start_and_run_it_at_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_export_run_by_many_at_once, n=THREADS)
    assert result["errors"] == [], result
    assert len(result["export_ids"]) == 1 and result["exports"] == 1, result
    assert result["runs"].count("ready") == 1 and result["runs"].count("skipped") == THREADS - 1, result
    assert result["statuses"] == ["ready"] and result["stored_exists"] == [True], result
    assert result["letters"] == 1 and result["request_status"] == "done", result
