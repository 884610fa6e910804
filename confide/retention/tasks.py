"""Background work of the retention engine (run by `confide db_worker`): the daily run."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tasks import task

_DAILY_AT = datetime.time(1, 15)  # after the night's backups have started


def next_daily_run(now: datetime.datetime | None = None) -> datetime.datetime:
    now = timezone.localtime(now or timezone.now())
    tomorrow = now.date() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(tomorrow, _DAILY_AT), now.tzinfo)


def schedule_daily(when: datetime.datetime | None = None) -> bool:
    """Queue the next daily run (database backend only; cron runs `confide retention run`).
    False when none could be queued."""
    if not retention_daily.get_backend().supports_defer:
        return False
    if when is None and _waiting():
        return True
    retention_daily.using(run_after=when or next_daily_run()).enqueue()
    return True


def _waiting() -> bool:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=retention_daily.module_path, status=TaskResultStatus.READY).exists()


@task()
def retention_daily() -> dict:
    """Today's run in every practice, then tomorrow's queued (a failure today still queues it)."""
    from confide.retention.engine import run

    try:
        reports = run()
    finally:
        schedule_daily()
    return {k: sum(r.counts()[k] for r in reports) for k in ("archived", "held", "destroyed")}
