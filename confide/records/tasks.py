"""Background work of records (run by `confide db_worker`)."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tasks import task

# A few minutes after local midnight: a birthday is a calendar date in the practice's time zone.
_DAILY_AT = datetime.time(0, 5)


def next_daily_run(now: datetime.datetime | None = None) -> datetime.datetime:
    now = timezone.localtime(now or timezone.now())
    tomorrow = now.date() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(tomorrow, _DAILY_AT), now.tzinfo)


def schedule_age_check(when: datetime.datetime | None = None) -> bool:
    """Enqueue the next daily run (database backend only; the `immediate` backend cannot defer,
    and cron runs `confide portal age-check` instead). False when none could be queued."""
    if not end_representation_daily.get_backend().supports_defer:
        return False
    if when is None and _daily_run_waiting():
        return True  # `make run` (or cron with --schedule) again: the chain is already going
    end_representation_daily.using(run_after=when or next_daily_run()).enqueue()
    return True


def _daily_run_waiting() -> bool:
    """Whether a daily run is already queued and not yet started (database backend): scheduling
    again would start a second chain of daily runs."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=end_representation_daily.module_path, status=TaskResultStatus.READY).exists()


@task()
def end_representation_daily() -> dict:
    """The 18th-birthday job (records/majority.py), then tomorrow's run queued: a failure of
    today's still queues tomorrow's, so one bad day does not stop the birthdays after it."""
    from confide.records.majority import end_representation_at_majority

    try:
        run = end_representation_at_majority()
    finally:
        schedule_age_check()
    return {"checked": run.checked, "came_of_age": len(run.came_of_age), "links_ended": run.links_ended}
