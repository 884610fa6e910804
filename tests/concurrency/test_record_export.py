"""RTS2: an export of "My record" is made once, even when several workers pick up its task at
the same moment (a retried task, two workers): one makes and seals the file, the others skip;
one `records:chart:exported` entry, one stored file."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, forget_user_on_cleanup, new_world, run_scenario

WORKERS = 6


def scenario_one_export_run_by_many_workers(params):
    import os
    from pathlib import Path

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.tenancy import tenant_context
    from confide.portal import exports
    from confide.portal.models import RecordExport
    from tests.portal_world import actor_for, create_patient, link, make_portal_user

    world = new_world("export")
    patient = create_patient(world, given_name="Ada", family_name="Export", email="")
    user = make_portal_user(f"ada-{world.practice.slug}@portal.test")
    forget_user_on_cleanup(user)
    portal_link = link(user, patient)
    with tenant_context(practice_id=world.practice.id):
        export = exports.do_request_export(actor=actor_for(portal_link), fmt="fhir")

    outcomes = concurrently(params["n"], lambda i: exports.run_export(export.pk, world.practice.id))
    with tenant_context(practice_id=world.practice.id):
        row = RecordExport.objects.get(pk=export.pk)
        exported = AuditEntry.objects.filter(event=AuditEvent.CHART_EXPORTED.value, subject_id=patient.pk).count()
    folder = Path(os.environ["CONFIDE_DATA_DIR"]) / "files" / str(world.practice.id) / str(patient.pk) / "record-export"
    return {
        "results": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "status": row.status,
        "progress": row.progress,
        "exported_entries": exported,
        "files": len(list(folder.iterdir())) if folder.exists() else 0,
    }


def test_rts2_one_export_picked_up_by_six_workers_at_once_is_made_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_export_run_by_many_workers, n=WORKERS)
    assert result["errors"] == []
    assert result["results"] == ["done"] + ["skipped"] * (WORKERS - 1)
    assert (result["status"], result["progress"]) == ("done", 100)
    assert result["exported_entries"] == 1
    assert result["files"] == 1
