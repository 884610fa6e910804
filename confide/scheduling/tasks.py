"""The reminders' sweep on the task worker (django-tasks), as messaging's sweep does it: each run
sends what is due (confide/scheduling/reminders.py) and queues the next one a minute later.

    make run / cron:  confide scheduling sweep --schedule   (once now, then every minute)
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tasks import task

SWEEP_EVERY = datetime.timedelta(minutes=1)


@task()
def sweep_reminders() -> int:
    """The minute's reminders, then the next sweep queued: a failing sweep still queues its successor."""
    from confide.scheduling.reminders import sweep

    try:
        return sweep()
    finally:
        schedule_sweep(timezone.now() + SWEEP_EVERY)


def schedule_sweep(when: datetime.datetime | None = None) -> bool:
    """Queue the next sweep (database backend only; cron runs `confide scheduling sweep` instead).
    Called without a time while one is already waiting, it starts no second chain."""
    if not sweep_reminders.get_backend().supports_defer:
        return False
    if when is None and _sweep_waiting():
        return True
    sweep_reminders.using(run_after=when or timezone.now() + SWEEP_EVERY).enqueue()
    return True


def _sweep_waiting() -> bool:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=sweep_reminders.module_path, status=TaskResultStatus.READY).exists()
