"""The held disclosure notices' sweep on the task worker (django-tasks), as the reminders' sweep
does it: each run sends the notices now due (rights/disclosure_notices.py) and queues the next
one an hour later (an until-date is a date: an hour is prompt enough).

    make run / cron:  confide disclosures sweep --schedule   (once now, then every hour)
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tasks import task

SWEEP_EVERY = datetime.timedelta(hours=1)


@task()
def sweep_disclosure_notices() -> int:
    """The notices due now, then the next sweep queued: a failing sweep still queues its successor."""
    from confide.rights.disclosure_notices import sweep

    try:
        return sweep()
    finally:
        schedule_sweep(timezone.now() + SWEEP_EVERY)


def schedule_sweep(when: datetime.datetime | None = None) -> bool:
    """Queue the next sweep (database backend only; cron runs `confide disclosures sweep` instead).
    Called without a time while one is already waiting, it starts no second chain."""
    if not sweep_disclosure_notices.get_backend().supports_defer:
        return False
    if when is None and _sweep_waiting():
        return True
    sweep_disclosure_notices.using(run_after=when or timezone.now() + SWEEP_EVERY).enqueue()
    return True


def _sweep_waiting() -> bool:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=sweep_disclosure_notices.module_path, status=TaskResultStatus.READY).exists()
