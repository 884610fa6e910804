"""The referral purge (DIR3): referrals older than 30 days deleted, every hour, on the task
worker (`confide db_worker`); `confide directory purge --schedule` starts the chain."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_tasks import task

from confide.directory.services import purge_referrals

PURGE_EVERY = datetime.timedelta(hours=1)


@task()
def purge_expired_referrals() -> int:
    """This hour's purge, then the next one queued: a failing purge still queues its successor."""
    try:
        return purge_referrals()
    finally:
        schedule_purge(timezone.now() + PURGE_EVERY)


def schedule_purge(when: datetime.datetime | None = None) -> bool:
    """Queue the next purge (database backend only; with the `immediate` backend cron runs
    `confide directory purge` instead). Without a time, no second chain starts if one waits."""
    if not purge_expired_referrals.get_backend().supports_defer:
        return False
    if when is None and _purge_waiting():
        return True
    purge_expired_referrals.using(run_after=when or timezone.now() + PURGE_EVERY).enqueue()
    return True


def _purge_waiting() -> bool:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=purge_expired_referrals.module_path, status=TaskResultStatus.READY).exists()
