"""Row locks of the consent ledger (STYLE: `select_for_update` lives in `<app>/locks.py`)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from confide.consent.models import ConsentState


def lock_state(practice_id, subject_kind: str, subject_id: str, topic: str) -> ConsentState:
    """The projection row of one subject's topic, created if missing, locked for the rest of the
    caller's transaction: appends to one (subject, topic) are serialised, so the check "is there
    anything to withdraw?" and the projection written afterwards never race another append.
    (SQLite: the IMMEDIATE transaction already holds the database's write lock.)"""
    key = {"practice_id": practice_id, "subject_kind": subject_kind, "subject_id": subject_id, "topic": topic}
    try:
        with transaction.atomic():
            ConsentState.objects.get_or_create(**key)
    except IntegrityError:  # created concurrently: it exists now
        pass
    return ConsentState.objects.select_for_update().get(**key)
