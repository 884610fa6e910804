"""Appending to a chain (sequencing), sealing it (integration), and the canonical encodings.

Two steps, after Certificate Transparency and Tessera's sequence-then-integrate
(docs/architecture.md, "The audit log's window"):

* `record(...)` must be called inside the transaction of the action it records: it joins that
  transaction (no savepoint, no lock), so the action and its entry commit or roll back
  together. It inserts one row, *unsealed*: `content_hash` = SHA-256 of the entry's canonical
  content (`content_canonical`), `seq`/`prev_hash`/`hash` NULL. On PostgreSQL that one INSERT
  also sets and clears the chain scope row-level security asks for (confide/audit/scope.py):
  one round trip.
* `seal(chain)` (the sealer: `confide audit seal --follow` beside the web server, and before
  `verify` and `export`) locks the chain head, gives the chain's unsealed entries, in id order,
  the next sequence numbers and their chain hashes `link_hash(chain, seq, content_hash,
  prev_hash)`, writes each once (the triggers of audit 0007 allow exactly that transition),
  moves the head and schedules the signed checkpoints that fall due (confide/audit/checkpoints.py).
  Two sealers never seal an entry twice: the head's lock orders them, and the UPDATE only
  matches entries still unsealed. A crash before its commit seals nothing; the next seal does.
  An entry whose content hash is missing or wrong is not sealed (logged by id; `verify` names it).

Entries sealed before audit 0007 have no content hash; their `hash` is SHA-256 of `canonical`
over every hashed field, prev_hash included (`entry_hash`), and verify still checks them so.

Every practice's chain starts with a genesis entry (`start_chain`, from a post_save of the
practice, in its creation transaction: confide/audit/signals.py), so `confide audit verify`
can tell a practice whose whole chain was deleted from one that never had entries.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from confide.audit import checkpoints
from confide.audit.canonical import encoder
from confide.audit.events import AuditEvent, outcome_of
from confide.audit.models import GENESIS, AuditEntry, ChainHead
from confide.audit.scope import SETTING as SCOPE_SETTING, chain_scope
from confide.core.http import client_ip

logger = logging.getLogger(__name__)

PLATFORM_CHAIN = "platform"
HASHED_FIELDS = (
    "chain", "seq", "at", "event", "practice_id", "actor_kind", "actor_id", "actor_role", "purpose",
    "subject_id", "resource_ids", "categories", "fields_changed", "outcome", "reason", "flagged",
    "detail", "request_id", "ip_address", "user_agent", "prev_hash",
)  # fmt: skip
# What an entry's content hash covers: every hashed field but the two the sealer assigns.
CONTENT_FIELDS = tuple(name for name in HASHED_FIELDS if name not in ("seq", "prev_hash"))
SEAL_BATCH = 5000  # entries sealed per transaction at most (the head's lock is held that long)
LINK_DOMAIN = b"confide-audit/v2\n"


@dataclass(frozen=True)
class AuditActor:
    kind: str  # user | patient | system | token | anonymous
    id: str = ""
    role: str = ""


ANONYMOUS = AuditActor("anonymous")


def system_actor(name: str) -> AuditActor:
    return AuditActor("system", name)


def patient_audit_actor(actor) -> AuditActor:
    """A patient in the portal: their portal account's id, and whether they acted for themselves
    (`self`) or as a minor's parent or guardian (`representative`); the record is the entry's
    subject. A choice recorded without a portal account keeps the patient's id, no role."""
    if actor.user_id is None:
        return AuditActor("patient", str(actor.patient_id))
    return AuditActor("patient", str(actor.user_id), "representative" if actor.representative else "self")


def as_audit_actor(actor) -> AuditActor:
    """StaffActor, User, AuditActor or None → the ids-only form stored in the log."""
    if actor is None:
        return ANONYMOUS
    if isinstance(actor, AuditActor):
        return actor
    if hasattr(actor, "membership_id") and hasattr(actor, "role"):  # StaffActor
        return AuditActor("user", str(actor.user_id), str(actor.role))
    if hasattr(actor, "patient_id") and hasattr(actor, "representative"):  # PatientActor
        return patient_audit_actor(actor)
    if getattr(actor, "is_authenticated", False):  # a User
        return AuditActor("user", str(actor.pk))
    return ANONYMOUS


encode_hashed = encoder(HASHED_FIELDS)  # a values tuple in HASHED_FIELDS order → canonical bytes
_hashed_values = operator.attrgetter(*HASHED_FIELDS)


def canonical(entry) -> bytes:
    """Sorted-key compact JSON of every hashed field: the same bytes on any database
    (confide/audit/canonical.py); the encoding of entries sealed before audit 0007. `entry`: an
    AuditEntry, or a tuple in HASHED_FIELDS order (a verify Row, a `values_list` row; trailing
    values such as `hash` are ignored)."""
    return encode_hashed(entry if isinstance(entry, tuple) else _hashed_values(entry))


def entry_hash(entry) -> str:
    """The hash of an entry sealed before audit 0007 (no content hash): over its content and prev_hash."""
    return hashlib.sha256(canonical(entry)).hexdigest()


encode_content = encoder(CONTENT_FIELDS)  # a values tuple in CONTENT_FIELDS order → canonical bytes


def content_canonical(values: Sequence) -> bytes:
    """The canonical bytes of an entry's content: `values` in CONTENT_FIELDS order, encoded as
    `canonical` encodes them (sorted-key compact ASCII JSON, `at` as UTC microseconds, UUIDs as
    text), by the fast byte-identical encoder (confide/audit/canonical.py; held to the json.dumps
    definition by tests/audit/test_canonical.py). The write path's one per-row encoder."""
    return encode_content(values)


def content_hash(values: Sequence) -> str:
    return hashlib.sha256(content_canonical(values)).hexdigest()


content_values = operator.attrgetter(*CONTENT_FIELDS)  # an entry's content, in CONTENT_FIELDS order


def link_hash(chain: str, seq: int, content: str, prev_hash: str) -> str:
    """The chain hash the sealer writes: the entry's place (chain, seq), its content, its predecessor."""
    return hashlib.sha256(LINK_DOMAIN + f"{chain}\n{seq}\n{content}\n{prev_hash}".encode()).hexdigest()


def sealed_hash(entry) -> str:
    """What a sealed entry's `hash` must be, by its format (content_hash NULL: before audit 0007)."""
    if entry.content_hash is None:
        return entry_hash(entry)
    return link_hash(entry.chain, entry.seq, entry.content_hash, entry.prev_hash)


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
    """Append an entry, unsealed (its `seq` and `hash` come from the sealer), in the caller's transaction."""
    event = AuditEvent(event)  # a string outside the enum is refused here
    outcome = outcome_of(event, outcome)  # a failed sign-in code is never "ok"
    who = as_audit_actor(actor)
    chain = str(practice_id) if practice_id else PLATFORM_CHAIN
    entry = AuditEntry(
        chain=chain,
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
    )
    entry.content_hash = content_hash(content_values(entry))
    _insert(entry)
    return entry


_insert_fields: list | None = None


def _insert(entry: AuditEntry) -> None:
    """One INSERT, no savepoint: it joins the caller's transaction, or is its own in autocommit.
    On PostgreSQL the chain scope the log's row security checks is set by the statement itself
    (the `chain` value is `set_config(…)`'s result) and cleared again in its RETURNING, so no
    other statement of the transaction runs in it."""
    global _insert_fields
    if _insert_fields is None:
        from django.db import models

        # Text and booleans go to the driver as they are; the rest through the field's own conversion.
        plain = (models.CharField, models.BooleanField)
        _insert_fields = [
            (f, isinstance(f, plain) and not isinstance(f, models.GenericIPAddressField))
            for f in AuditEntry._meta.concrete_fields
            if f.name not in ("id", "seq", "prev_hash", "hash")
        ]
    using = router.db_for_write(AuditEntry)
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f, _ in _insert_fields)
    params = [getattr(entry, f.attname) if as_is else f.get_db_prep_save(getattr(entry, f.attname), connection) for f, as_is in _insert_fields]
    placeholders = ["%s"] * len(params)
    table = quote(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            placeholders[[f.name for f, _ in _insert_fields].index("chain")] = f"set_config('{SCOPE_SETTING}', %s, true)"
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(placeholders)}) "
                f"RETURNING {quote('id')}, set_config('{SCOPE_SETTING}', '', true)",
                params,
            )
            entry.id = cursor.fetchone()[0]
        else:
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(placeholders)})", params)
            entry.id = cursor.lastrowid
    entry._state.adding = False
    entry._state.db = using


# --- sealing ---------------------------------------------------------------------------------
def seal(chain: str, *, wait: bool = True, batch: int = SEAL_BATCH, using: str | None = None) -> int:
    """Seal the chain's unsealed entries (in batches of `batch`, one transaction each); the
    number sealed. `wait=False`: if another sealer holds the chain (PostgreSQL), return 0 at
    once rather than wait for it (the loop; it will be back in a second)."""
    using = using or router.db_for_write(AuditEntry)
    total, after = 0, 0
    if not _waiting(chain, using):
        return 0  # nothing to seal: no transaction (on SQLite it would take the write lock)
    while True:
        sealed, fetched, after = _seal_batch(chain, wait=wait, batch=batch, after=after, using=using)
        total += sealed
        if fetched < batch:
            return total


def _waiting(chain: str, using: str) -> bool:
    with chain_scope(chain, using=using):
        return AuditEntry.objects.using(using).filter(chain=chain, seq__isnull=True).exists()


def unsealed_chains(using: str | None = None) -> list[str]:
    """The chains with unsealed entries. On PostgreSQL through audit_unsealed_chains() (audit
    0007), which reads as the log's owner and returns chain names only: the application role
    reads no chain outside its scope."""
    using = using or router.db_for_write(AuditEntry)
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT chain FROM audit_unsealed_chains()")
        else:
            cursor.execute(f"SELECT DISTINCT chain FROM {AuditEntry._meta.db_table} WHERE seq IS NULL")
        return sorted(row[0] for row in cursor.fetchall())


def seal_all(*, wait: bool = True, using: str | None = None) -> int:
    """Seal every chain that has unsealed entries; the number sealed."""
    return sum(seal(chain, wait=wait, using=using) for chain in unsealed_chains(using))


def _locked_head(chain: str, *, wait: bool, using: str) -> ChainHead | None:
    """The chain head, locked for this transaction (created at seq 0 for a new chain); None when
    `wait` is False and another sealer holds it. SQLite: the IMMEDIATE transaction is the lock."""
    heads = ChainHead.objects.using(using)
    head = heads.select_for_update(skip_locked=not wait).filter(chain=chain).first()
    if head is not None:
        return head
    if not wait and heads.filter(chain=chain).exists():
        return None  # locked by another sealer
    try:
        with transaction.atomic(using=using):
            heads.get_or_create(chain=chain)
    except IntegrityError:  # created concurrently: it exists now
        pass
    return heads.select_for_update().get(chain=chain)


def _seal_batch(chain: str, *, wait: bool, batch: int, after: int, using: str) -> tuple[int, int, int]:
    """(sealed, fetched, last id fetched). The entries are read and checked, then written with
    one UPDATE per 1,000 (PostgreSQL) or one executemany (SQLite), then the head moves."""
    with transaction.atomic(using=using), chain_scope(chain, using=using):
        head = _locked_head(chain, wait=wait, using=using)
        if head is None:
            return 0, 0, after
        rows = list(
            AuditEntry.objects.using(using)
            .filter(chain=chain, seq__isnull=True, id__gt=after)
            .order_by("id")
            .values_list("id", "content_hash", *CONTENT_FIELDS)[:batch]
        )
        seq, prev = head.seq, head.hash or GENESIS
        sealed: list[tuple[int, int, str, str]] = []
        refused: list[int] = []
        for entry_id, stored, *values in rows:
            if stored is None or content_hash(values) != stored:
                refused.append(entry_id)
                continue
            seq += 1
            link = link_hash(chain, seq, stored, prev)
            sealed.append((entry_id, seq, prev, link))
            prev = link
        if refused:
            logger.error(
                "audit entries not sealed: their content hash is missing or does not match (verify names them)",
                extra={"event": "audit:seal:refused", "object_id": chain, "count": len(refused)},
            )
            for entry_id in refused[:20]:
                logger.error("audit entry not sealed", extra={"event": "audit:seal:refused", "object_id": str(entry_id)})
        if sealed:
            _write_seals(sealed, using)
            fields = checkpoints.after_seal(head, [(s, h) for _, s, _, h in sealed], timezone.now())
            ChainHead.objects.using(using).filter(chain=chain).update(seq=seq, hash=prev, **fields)
        return len(sealed), len(rows), rows[-1][0] if rows else after


def _write_seals(sealed: list[tuple[int, int, str, str]], using: str) -> None:
    connection = connections[using]
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for start in range(0, len(sealed), 1000):
                part = sealed[start : start + 1000]
                values = ", ".join(["(%s::bigint, %s::bigint, %s::varchar, %s::varchar)"] * len(part))
                cursor.execute(
                    f"UPDATE {table} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "
                    f"FROM (VALUES {values}) AS v(id, seq, prev_hash, hash) WHERE e.id = v.id AND e.seq IS NULL",
                    [p for row in part for p in row],
                )
                written += cursor.rowcount
        else:
            cursor.executemany(
                f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s WHERE id = %s AND seq IS NULL",
                [(s, p, h, i) for i, s, p, h in sealed],
            )
            written = cursor.rowcount
    if written != len(sealed):  # sealed by someone else meanwhile: impossible under the head's lock
        raise RuntimeError(f"audit seal wrote {written} of {len(sealed)} entries: rolled back")


PRACTICE_SETUP = system_actor("practice-setup")


def start_chain(practice_id: uuid.UUID) -> AuditEntry:
    """A new practice's genesis entry: seq 1 of its chain, ids only (the practice is the chain)."""
    return record(AuditEvent.CHAIN_STARTED, practice_id=practice_id, actor=PRACTICE_SETUP)
