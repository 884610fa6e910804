"""Background work of accounts (run by `confide db_worker`)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task

# After the cool-off, so that the attempt that scheduled the task has expired when it runs.
_PRUNE_GRACE = timedelta(minutes=1)


@task()
def prune_signin_attempts() -> dict:
    """Delete django-axes rows the lockout no longer counts: attempts whose last failure is older
    than the cool-off, and any access log (none are written; older installations had them)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    threshold = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(attempt_time__lte=threshold).delete()[1].get("axes.AccessAttempt", 0)
    logs = AccessLog.objects.all().delete()[0] + AccessFailureLog.objects.all().delete()[0]
    return {"attempts": attempts, "access_logs": logs}


def schedule_signin_attempt_pruning() -> None:
    """After a failed sign-in: a prune when its attempt row expires, so a quiet installation
    (no further sign-ins to trigger django-axes' own clean-up) does not keep it."""

    def enqueue() -> None:
        if default_task_backend.supports_defer:
            prune_signin_attempts.using(run_after=timezone.now() + settings.AXES_COOLOFF_TIME + _PRUNE_GRACE).enqueue()

    transaction.on_commit(enqueue)


@task()
def send_password_reset(user_id: int | None, portal: bool = False) -> bool:
    """The reset e-mail of a request (accounts/reset.py). Queued for an unknown address too,
    with no id: it then sends nothing. Sent here, not in the request, so an SMTP server's time
    never tells a known address from an unknown one."""
    from confide.accounts.reset import send_reset_email

    return send_reset_email(user_id, portal=portal)
