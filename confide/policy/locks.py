"""Row locks of the policy (STYLE: `select_for_update` lives in `<app>/locks.py`)."""

from __future__ import annotations

from confide.policy.models import PolicyVersion


def lock_latest_version() -> PolicyVersion | None:
    """The practice's latest version (in the caller's tenant context), locked for the rest of the
    caller's transaction, so publishers are serialised and each judges its change against the
    version it will follow. Under READ COMMITTED a publisher that waited for the lock gets back
    the row its query first found, not the one a concurrent publisher has just added; so the
    lock is taken on the newest row again until no newer one has appeared. (SQLite: the
    IMMEDIATE transaction already holds the database's write lock.)"""
    while True:
        latest = PolicyVersion.objects.select_for_update().order_by("-number").first()
        newest = PolicyVersion.objects.order_by("-number").values_list("number", flat=True).first()
        if latest is None or newest == latest.number:
            return latest
