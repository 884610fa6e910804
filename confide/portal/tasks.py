"""Background work of the portal (run by `confide db_worker`): making a "Download my record"
file, and deleting the expired ones (portal/exports.py)."""

from __future__ import annotations

from django_tasks import task


@task()
def make_record_export(export_id: str, practice_id: str) -> str:
    """Make one export an account asked for (enqueued after the request's commit)."""
    from confide.portal.exports import run_export

    return run_export(export_id, practice_id)


@task()
def delete_expired_record_exports() -> int:
    """Delete the files of exports past their download window (scheduled for each one's end)."""
    from confide.portal.exports import delete_expired_exports

    return delete_expired_exports()
