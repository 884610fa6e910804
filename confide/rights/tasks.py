"""Background work of rights requests (run by `confide db_worker`): the daily sweep, as the
reminders' sweep does it (each run sends due acknowledgements and alerts the privacy officers,
confide/rights/sweep.py, then queues the next run a day later); making the copy of a patient's
information for a `see` or `copy` request and deleting expired copies (confide/rights/export.py).

    make run / cron:  confide rights sweep --schedule   (once now, then daily)
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tasks import task

SWEEP_EVERY = datetime.timedelta(days=1)


@task()
def sweep_rights() -> int:
    """Today's sweep, then the next one queued: a failing sweep still queues its successor."""
    from confide.rights.sweep import sweep

    try:
        return sweep().alerted
    finally:
        schedule_sweep(timezone.now() + SWEEP_EVERY)


def schedule_sweep(when: datetime.datetime | None = None) -> bool:
    """Queue the next sweep (database backend only; cron runs `confide rights sweep` instead).
    Called without a time while one is already waiting, it starts no second chain."""
    if not sweep_rights.get_backend().supports_defer:
        return False
    if when is None and _sweep_waiting():
        return True
    sweep_rights.using(run_after=when or timezone.now() + SWEEP_EVERY).enqueue()
    return True


def _sweep_waiting() -> bool:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=sweep_rights.module_path, status=TaskResultStatus.READY).exists()


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
