"""Rate limits counted in the database (the password reset requests): one row per client and
window, a keyed hash for the client, an atomic conditional increment.

Counted in the database rather than the cache for the reason records/intake.py gives: the cache
of `make run` is a directory whose increment is a read and a write, and the database is the one
store every worker and machine shares. Each count commits on its own, before the work it guards,
so a refused attempt counts as much as an accepted one."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from confide.accounts.models import AttemptCount


def client_key(kind: str, value: str) -> str:
    """A keyed hash of what is counted ("reset-ip", an address): the table never holds it."""
    return hmac.new(settings.SECRET_KEY.encode(), f"{kind}:{value.strip().lower()}".encode(), hashlib.sha256).hexdigest()


def count_attempt(key: str, *, limit: int, window: timedelta) -> bool:
    """Count one attempt of `key` in the current window: True if it is within `limit`, False
    (and not counted past the limit) if the limit is reached. The increment is a conditional
    UPDATE (`count < limit`): parallel requests cannot all read `limit - 1` and all pass."""
    start = _window_start(window)
    this_window = AttemptCount.objects.filter(key=key, window_start=start)
    with transaction.atomic():
        if this_window.filter(count__lt=limit).update(count=F("count") + 1):
            return True
        if not this_window.exists():
            try:
                with transaction.atomic():
                    AttemptCount.objects.create(key=key, window_start=start, count=1)
            except IntegrityError:
                pass  # a parallel request started the window first: count on its row
            else:
                AttemptCount.objects.filter(window_start__lt=start - window).delete()  # long past windows
                return limit >= 1
        # Once more: the window's row may have been committed by another request meanwhile.
        return bool(this_window.filter(count__lt=limit).update(count=F("count") + 1))


def _window_start(window: timedelta) -> datetime:
    seconds = window.total_seconds()
    return datetime.fromtimestamp(timezone.now().timestamp() // seconds * seconds, tz=UTC)


def limit_reached(key: str, *, limit: int, window: timedelta) -> bool:
    """Whether `key` has used up its `limit` in the current window (counting nothing): for
    limits on failures, checked before an attempt and counted (`count_attempt`) only when it fails."""
    return AttemptCount.objects.filter(key=key, window_start=_window_start(window), count__gte=limit).exists()
