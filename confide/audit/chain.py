"""Appending to a chain, and the canonical encoding every hash is computed over.

`record(...)` must be called inside the transaction of the action it records: it joins that
transaction (atomic, not durable), so the action and its entry commit or roll back together.
The chain head row is locked for the append (PostgreSQL: SELECT … FOR UPDATE; SQLite: the
IMMEDIATE transaction already holds the write lock), so concurrent writers get gap-free,
strictly increasing sequence numbers. When a signed checkpoint is due it is written after the
transaction commits; the entry that opens a tail enqueues the timer's seal of it
(confide/audit/checkpoints.py). On PostgreSQL the statements run in the chain's scope
(confide/audit/scope.py), the one thing row-level security lets insert into the log.

Every practice's chain starts with a genesis entry (`start_chain`, from a post_save of the
practice, in its creation transaction: confide/audit/signals.py), so `confide audit verify`
can tell a practice whose whole chain was deleted from one that never had entries.
"""

from __future__ import annotations

import hashlib
import operator
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from confide.audit import checkpoints
from confide.audit.canonical import encoder
from confide.audit.events import AuditEvent, outcome_of
from confide.audit.models import GENESIS, AuditEntry, ChainHead
from confide.audit.scope import chain_scope
from confide.core.http import client_ip

PLATFORM_CHAIN = "platform"
HASHED_FIELDS = (
    "chain", "seq", "at", "event", "practice_id", "actor_kind", "actor_id", "actor_role", "purpose",
    "subject_id", "resource_ids", "categories", "fields_changed", "outcome", "reason", "flagged",
    "detail", "request_id", "ip_address", "user_agent", "prev_hash",
)  # fmt: skip


@dataclass(frozen=True)
class AuditActor:
    kind: str  # user | patient | system | token | anonymous
    id: str = ""
    role: str = ""


ANONYMOUS = AuditActor("anonymous")


def system_actor(name: str) -> AuditActor:
    return AuditActor("system", name)


def as_audit_actor(actor) -> AuditActor:
    """StaffActor, User, AuditActor or None → the ids-only form stored in the log."""
    if actor is None:
        return ANONYMOUS
    if isinstance(actor, AuditActor):
        return actor
    if hasattr(actor, "membership_id") and hasattr(actor, "role"):  # StaffActor
        return AuditActor("user", str(actor.user_id), str(actor.role))
    if getattr(actor, "is_authenticated", False):  # a User
        return AuditActor("user", str(actor.pk))
    return ANONYMOUS


encode_hashed = encoder(HASHED_FIELDS)  # a values tuple in HASHED_FIELDS order → canonical bytes
_hashed_values = operator.attrgetter(*HASHED_FIELDS)


def canonical(entry: AuditEntry) -> bytes:
    """Sorted-key compact JSON of every hashed field: the same bytes on any database
    (confide/audit/canonical.py). `entry`: an AuditEntry, or a tuple in HASHED_FIELDS order (a
    verify Row, a `values_list` row; a trailing `hash` is ignored)."""
    return encode_hashed(entry if isinstance(entry, tuple) else _hashed_values(entry))


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def _locked_head(chain: str) -> ChainHead:
    try:
        with transaction.atomic():
            ChainHead.objects.get_or_create(chain=chain)
    except IntegrityError:  # created concurrently: it exists now
        pass
    return ChainHead.objects.select_for_update().get(chain=chain)


def record(
    event: AuditEvent,
    *,
    practice_id: uuid.UUID | str | None = None,
    actor=None,
    purpose: str = "",
    subject_id: uuid.UUID | None = None,
    resource_ids: Iterable = (),
    categories: Iterable[str] = (),
    fields_changed: Iterable[str] = (),
    outcome: str = "ok",
    reason: str = "",
    flagged: bool = False,
    detail: dict | None = None,
    request=None,
) -> AuditEntry:
    event = AuditEvent(event)  # a string outside the enum is refused here
    outcome = outcome_of(event, outcome)  # a failed sign-in code is never "ok"
    who = as_audit_actor(actor)
    chain = str(practice_id) if practice_id else PLATFORM_CHAIN
    with transaction.atomic(), chain_scope(chain):
        head = _locked_head(chain)
        entry = AuditEntry(
            chain=chain,
            seq=head.seq + 1,
            at=timezone.now(),
            event=event.value,
            practice_id=uuid.UUID(str(practice_id)) if practice_id else None,
            actor_kind=who.kind,
            actor_id=who.id,
            actor_role=who.role,
            purpose=str(purpose or ""),
            subject_id=subject_id,
            resource_ids=sorted(str(r) for r in resource_ids),
            categories=sorted(set(categories)),
            fields_changed=sorted(set(fields_changed)),
            outcome=outcome,
            reason=reason,
            flagged=flagged,
            detail=detail or {},
            request_id=getattr(request, "request_id", "") if request is not None else "",
            ip_address=(client_ip(request) or None) if request is not None else None,
            user_agent=request.headers.get("User-Agent", "")[:200] if request is not None else "",
            prev_hash=head.hash or GENESIS,
        )
        entry.hash = entry_hash(entry)
        entry.save(force_insert=True)
        checkpoint_fields = checkpoints.after_append(head, entry)  # a signed checkpoint after commit, when due
        ChainHead.objects.filter(chain=chain).update(seq=entry.seq, hash=entry.hash, **checkpoint_fields)
    return entry


PRACTICE_SETUP = system_actor("practice-setup")


def start_chain(practice_id: uuid.UUID) -> AuditEntry:
    """A new practice's genesis entry: seq 1 of its chain, ids only (the practice is the chain)."""
    return record(AuditEvent.CHAIN_STARTED, practice_id=practice_id, actor=PRACTICE_SETUP)
