"""What the vault tells the layers above it.

The vault sits below the audit log (core < vault < audit < …), so it cannot write audit
entries itself; it announces its key events instead and `confide.audit.receivers` records
them. Signals are synchronous: the receiver runs inside the sender's transaction, so the entry
commits or rolls back with the key change it records, and a receiver that fails makes the
change fail (never `send_robust`)."""

from __future__ import annotations

from enum import StrEnum, unique

from django.dispatch import Signal


@unique
class KeyEvent(StrEnum):
    """The vault's events; the audit log's names for them are `vault:<resource>:<action>`."""

    KEK_ROTATED = "vault:kek:rotated"
    SUBJECT_KEY_ROTATED = "vault:subject-key:rotated"


# kwargs: event (a KeyEvent), practice_id (UUID), detail (dict of ids and counts, never a key)
key_event = Signal()


def announce(event: KeyEvent, practice_id, detail: dict) -> None:
    responses = key_event.send(sender=KeyEvent, event=KeyEvent(event), practice_id=practice_id, detail=detail)
    if not responses:
        # Nobody records it: refuse rather than rotate keys off the record.
        raise RuntimeError("no receiver records the vault's key events (is confide.audit installed?)")
