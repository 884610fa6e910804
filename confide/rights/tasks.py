"""Background work of rights requests (run by `confide db_worker`): making the copy of a patient's
information for a `see` or `copy` request (confide/rights/export.py)."""

from __future__ import annotations

from django_tasks import task


@task()
def make_rights_export(export_id: str, practice_id: str) -> str:
    """Make one export (enqueued after the request's commit)."""
    from confide.rights.export import run_export

    return run_export(export_id, practice_id)


@task()
def delete_expired_rights_exports() -> int:
    """Delete the files of copies past their link's time (scheduled for each one's end)."""
    from confide.rights.export import delete_expired_exports

    return delete_expired_exports()
