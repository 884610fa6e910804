"""Row locks of accounts (STYLE: `select_for_update` lives in `<app>/locks.py`)."""

from __future__ import annotations

from confide.accounts.models import User


def lock_user(user_id: int) -> None:
    """Lock one user's row for the rest of the caller's transaction: changes to their
    authenticators (starting a set-up, confirming one) are serialised, so two sessions never
    both hold a pending secret, and a confirmation never races a new set-up.
    (SQLite: the IMMEDIATE transaction already holds the database's write lock.)"""
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))
