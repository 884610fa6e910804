"""Verifying the audit chains: `confide audit verify`.

`verify_chain` is a pure function over an iterable of entries (anything with the hashed fields and
`hash` as attributes, ordered by seq), the chain's stored checkpoints, the verification key and
the chain-head row. It walks the entries once, keeping only the previous two hashes, the last
MAX_LISTED entry hashes and the checkpoints by seq (without their hash lists), so verifying a
chain takes constant memory in its length; `verify_chains` feeds it rows streamed from the
database with `.iterator(chunk_size=...)`.

For each entry at position `expected` (seqs start at 1 and step by 1):

* seq ≠ expected → **deleted** (a gap: entries expected..seq-1 are missing) or **inserted** (a
  seq seen again: a duplicate or an entry moved back);
* its hash ≠ SHA-256(canonical(entry)) with prev_hash linking to the entry before → **edited**;
* it claims the same predecessor as the entry before it → **inserted** (that one was slipped in);
* prev_hash ≠ the previous entry's hash → **reordered** (entries swapped or moved; or the entry
  before was rewritten with a recomputed hash);

then every checkpoint: its Ed25519 signature (**bad-signature**), that it names this chain, that the
entry at its seq has the hash it signed (**rewritten**: the chain up to there was recomputed; named
at the first entry whose hash differs from the hashes the checkpoint lists, when it lists them),
and that its seq is not beyond the last entry (**truncated**); and the chain head row against the
last entry (**deleted** / **inserted** / **edited** at the tail). After a problem the walk
resynchronises on the entry's stored hash, so one tampered entry is reported once, not as a cascade.

Two checks that do not trust the database:

* a practice's chain must exist and hold its **genesis** entry (at seq 1; or, for a practice older
  than genesis entries, appended saying how many entries came before it): a practice whose
  entries and chain head were all deleted is a failure, not a practice with nothing to check;
* with `sealed_before` (the command passes now − 2 × CONFIDE_AUDIT_CHECKPOINT_MINUTES) an entry
  written before then that no checkpoint covers is **unsealed**: the task worker seals a tail
  within one interval, so its checkpoints were deleted (with `checkpoint_seq` reset, nothing in
  the database says so) or no worker is running.
"""

from __future__ import annotations

import datetime
from collections import deque, namedtuple
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from confide.audit.chain import CONTENT_FIELDS, HASHED_FIELDS, content_hash, entry_hash, link_hash
from confide.audit.checkpoints import MAX_LISTED, Checkpoint, CheckpointError, CheckpointSink, StoredCheckpoint, signature_problem
from confide.audit.events import AuditEvent
from confide.audit.models import GENESIS

# content_hash None: an entry sealed before audit 0007 (its hash covers its content directly).
# `id` is read for entries the sealer refused (no seq to name them by).
Row = namedtuple("Row", (*HASHED_FIELDS, "hash", "content_hash", "id"), defaults=(None, None))
MAX_PROBLEMS = 100  # kept per chain (the rest are only counted): bounded memory on a badly broken chain

# Ties at one seq: what the entries themselves show first, then the checkpoints, then the head row.
_PRIORITY = {"edited": 0, "deleted": 0, "inserted": 0, "reordered": 0, "genesis": 0, "truncated": 1, "rewritten": 1,
             "unsealed": 1, "bad-signature": 2, "bad-checkpoint": 2, "head": 3}  # fmt: skip
GENESIS_EVENT = AuditEvent.CHAIN_STARTED.value


@dataclass(frozen=True, order=True)
class Problem:
    seq: int
    priority: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.message}"


@dataclass
class ChainReport:
    chain: str
    entries: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems) if self.problems else None

    def add(self, seq: int, kind: str, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.more_problems += 1
        else:
            self.problems.append(Problem(seq, _PRIORITY[kind], kind, message))


def _with_prev(row, prev_hash: str) -> str:
    """The hash the row would have with `prev_hash` as its link (tells an edited link from a moved row)."""
    if row.content_hash is not None:
        return link_hash(row.chain, row.seq, row.content_hash, prev_hash)
    values = {name: getattr(row, name) for name in HASHED_FIELDS}
    values["prev_hash"] = prev_hash
    return entry_hash(Row(**values, hash=""))


def _content_ok(row) -> bool:
    return row.content_hash == content_hash(tuple(getattr(row, name) for name in CONTENT_FIELDS))


def _hash_ok(row) -> bool:
    """A v2 entry: its content matches its content hash and its chain hash covers that, its place
    and its link. An entry sealed before audit 0007: its hash covers every field."""
    if row.content_hash is None:
        return entry_hash(row) == row.hash
    return _content_ok(row) and link_hash(row.chain, row.seq, row.content_hash, row.prev_hash) == row.hash


def _timestamp(at: str) -> str:
    return at.replace("T", " ").removesuffix("Z")


def verify_chain(
    chain: str,
    rows: Iterable,
    checkpoints: Iterable[StoredCheckpoint] = (),
    *,
    public_key=None,
    head: tuple[int, str] | None = None,
    head_checkpoint_seq: int = 0,
    practice: bool = False,
    sealed_before: datetime.datetime | None = None,
    load_checkpoint: Callable[[str], Checkpoint] | None = None,
) -> ChainReport:
    """Check one chain. `rows` ordered by seq; `head` is the ChainHead row's (seq, hash), None if
    absent. `practice`: the chain is a practice's, so it must exist and hold its genesis entry.
    `sealed_before`: entries written before then must be covered by a checkpoint.
    `load_checkpoint(location)`: a stored checkpoint in full (its hash list), to name where a
    rewrite begins."""
    report = ChainReport(chain)

    signed: dict[int, list] = {}
    locations: dict[int, str] = {}
    for stored in checkpoints:
        report.checkpoints += 1
        cp = stored.checkpoint
        if cp is None:
            report.add(max(stored.seq, 0), "bad-checkpoint", f"unreadable checkpoint {stored.location}: {stored.error}")
            continue
        problem = signature_problem(cp, public_key)
        if problem:
            report.add(cp.seq, "bad-signature", f"checkpoint {stored.location}: {problem}")
        elif cp.chain != chain:
            report.add(cp.seq, "bad-checkpoint", f"checkpoint {stored.location} is signed for chain {cp.chain}, not this one")
        else:
            signed.setdefault(cp.seq, []).append(cp)
            locations.setdefault(cp.seq, stored.location)
    if head_checkpoint_seq and head_checkpoint_seq not in signed:
        report.warnings.append(
            f"the chain head records a checkpoint at seq {head_checkpoint_seq} that the sink does not hold "
            "(it failed to write, or the sink was changed): see the application log"
        )
    last_signed = max(signed, default=0)

    expected, prev, prev_prev = 1, GENESIS, None
    last_seq, last_hash = 0, GENESIS
    recent: deque = deque(maxlen=MAX_LISTED)  # (seq, hash) of the last entries: where a rewrite begins
    genesis_seq, pinpointed, unsealed, v2_seen = 0, False, False, 0
    for row in rows:
        seq = row.seq
        if seq is None:  # unsealed: verify seals first, so written since, or refused by the sealer
            if row.content_hash is None or not _content_ok(row):
                report.entries += 1
                why = "it has no content hash" if row.content_hash is None else "its content does not match its content hash"
                report.add(last_seq + 1, "edited", f"entry id {row.id} was not sealed: {why} (inserted or edited behind the triggers' back)")
            continue  # a sound entry written after the seal: the next verify checks it
        report.entries += 1
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            report.add(expected, "deleted", f"seq gap: entry {missing} is missing (deleted); the next entry is seq {seq}")
        elif seq < expected:
            report.add(seq, "inserted", f"seq {seq} again after seq {expected - 1}: a duplicate or out-of-order entry was inserted")
        else:
            hash_ok = _hash_ok(row)
            link_ok = row.prev_hash == prev
            downgraded = row.content_hash is None and v2_seen
            if row.content_hash is not None:
                v2_seen = v2_seen or seq
            if not link_ok and prev_prev is not None and row.prev_hash == prev_prev and seq > 1:
                report.add(seq - 1, "inserted", f"entries {seq - 1} and {seq} both follow entry {seq - 2}: entry {seq - 1} was inserted")
            elif downgraded:
                report.add(seq, "edited", f"entry {seq} is in the format before audit 0007, after entry {v2_seen} in the new one: it was rewritten")
            elif not hash_ok and (link_ok or _with_prev(row, prev) == row.hash):
                report.add(seq, "edited", "the stored hash does not match the entry's content: the entry was edited")
            elif not hash_ok:
                report.add(seq, "reordered", f"neither its hash nor its link to entry {seq - 1} matches: entries were reordered (or this one rewritten)")
            elif not link_ok:
                report.add(seq, "reordered", f"prev_hash does not match entry {seq - 1}'s hash: entries before it were reordered, replaced or removed")
        if row.event == GENESIS_EVENT and practice:
            genesis_seq = _check_genesis(report, row, genesis_seq)
        if sealed_before is not None and not unsealed and seq > last_signed and row.at < sealed_before:
            unsealed = True
            report.add(seq, "unsealed",
                       f"entry {seq} was written at {row.at:%Y-%m-%d %H:%M:%S} UTC and no checkpoint covers it, though the task "
                       "worker seals a tail within CONFIDE_AUDIT_CHECKPOINT_MINUTES: checkpoints were deleted, or no worker is "
                       "running (`confide audit checkpoint` seals every chain now)")  # fmt: skip
        recent.append((seq, row.hash))
        for cp in signed.pop(seq, ()):
            if cp.hash != row.hash:
                first = _first_rewritten(cp, locations.get(seq), recent, load_checkpoint) if not pinpointed else None
                pinpointed = True
                report.add(first or seq, "rewritten",
                           f"entry {first or seq}'s hash differs from the one the checkpoint at seq {seq} (signed {_timestamp(cp.at)}) "
                           + ("lists for it: the chain was rewritten from this entry on" if first else "recorded: the chain up to it was rewritten"))  # fmt: skip
        prev_prev, prev = row.prev_hash, row.hash
        expected = max(expected, seq + 1)
        last_seq, last_hash = max(last_seq, seq), row.hash

    for seq, cps in sorted(signed.items()):
        if seq > last_seq:
            report.add(last_seq + 1, "truncated",
                       f"the checkpoint signed at {cps[0].at} covers seq {seq}, but the last entry is seq {last_seq}: "
                       f"entries {last_seq + 1}..{seq} were truncated")  # fmt: skip
        else:
            report.add(seq, "deleted", f"entry {seq}, named by the checkpoint signed at {cps[0].at}, is missing")

    if practice and not genesis_seq:
        if not report.entries and head is None:
            report.add(1, "deleted", "the practice has no audit chain: no entries and no chain head, though every practice's chain "
                                     "starts with a genesis entry when the practice is created: its whole chain was deleted")  # fmt: skip
        else:
            report.add(1, "genesis", f"the chain holds no genesis entry ({GENESIS_EVENT}): it was deleted, and the chain begun again")
    if head is None:
        if report.entries:
            report.add(last_seq, "head", "the chain has entries but no chain head row")
    elif head[0] > last_seq:
        report.add(last_seq + 1, "deleted", f"the chain head records seq {head[0]} but the last entry is seq {last_seq}: entries after it were deleted")
    elif head[0] < last_seq:
        report.add(head[0] + 1, "inserted", f"entries {head[0] + 1}..{last_seq} are beyond the chain head (seq {head[0]}): inserted")
    elif head[1] != last_hash:
        report.add(last_seq, "edited", f"the chain head's hash differs from entry {last_seq}'s hash")
    return report


def _check_genesis(report: ChainReport, row, genesis_seq: int) -> int:
    """A genesis entry belongs at seq 1, or appended (audit 0004) after as many entries as it says."""
    if genesis_seq:
        report.add(row.seq, "genesis", f"a second genesis entry (the first is seq {genesis_seq}): it was inserted")
        return genesis_seq
    detail = row.detail if isinstance(row.detail, dict) else {}
    if row.seq != 1 and detail.get("existing_entries") != row.seq - 1:
        report.add(row.seq, "genesis", "a genesis entry in the middle of the chain that does not say how many entries came before it")
    return row.seq


def _first_rewritten(cp: Checkpoint, location: str | None, recent: deque, load: Callable[[str], Checkpoint] | None) -> int | None:
    """The first seq whose hash differs from those the checkpoint lists, if it lists them and they
    can be read (and still belong to that signed checkpoint); else None."""
    if not cp.lists_entries:
        return None
    full = cp if cp.hashes else None
    if full is None and load is not None and location is not None:
        try:
            loaded = load(location)
        except (CheckpointError, OSError, ValueError):
            return None
        full = loaded if (loaded.digest, loaded.signature) == (cp.digest, cp.signature) else None
    if full is None:
        return None
    seen = dict(recent)
    for seq, listed in zip(range(full.since + 1, full.seq + 1), full.hashes, strict=True):
        if seen.get(seq) != listed:
            return seq
    return None


# --- the database side -----------------------------------------------------------------------
def stream_rows(chain: str, chunk_size: int = 2000, *, using: str = "default") -> Iterator[Row]:
    """A chain's entries ordered by seq, read in chunks (a server-side cursor on PostgreSQL)."""
    from confide.audit.models import AuditEntry

    from django.db.models import F

    # Unsealed entries last (NULL sorts first on SQLite): verify seals first, so these are refused ones.
    query = AuditEntry.objects.using(using).filter(chain=chain).order_by(F("seq").asc(nulls_last=True), "id").values_list(*HASHED_FIELDS, "hash", "content_hash", "id")
    for values in query.iterator(chunk_size=chunk_size):
        yield Row._make(values)


def all_chains(sink: CheckpointSink, *, using: str = "default", practices: Iterable[str] = ()) -> list[str]:
    """Every chain anything knows of: practices, head rows, entries, and the sink (a chain whose
    rows were all deleted, head included, still has its checkpoints, and its practice)."""
    from confide.audit.models import AuditEntry, ChainHead

    names = set(practices)
    names.update(ChainHead.objects.using(using).values_list("chain", flat=True))
    names.update(AuditEntry.objects.using(using).order_by().values_list("chain", flat=True).distinct())
    names.update(sink.chains())
    return sorted(names)


def verify_chains(
    chains: Iterable[str],
    *,
    sink: CheckpointSink | None,
    public_key,
    chunk_size: int = 2000,
    using: str = "default",
    practices: frozenset[str] = frozenset(),
    sealed_before: datetime.datetime | None = None,
) -> Iterator[ChainReport]:
    """`sink` None: it cannot be read (the command has said so), so there are no checkpoints to check."""
    from confide.audit.models import ChainHead

    for chain in chains:
        head = ChainHead.objects.using(using).filter(chain=chain).values_list("seq", "hash", "checkpoint_seq").first()
        yield verify_chain(
            chain,
            stream_rows(chain, chunk_size, using=using),
            sink.read(chain) if sink is not None else (),
            public_key=public_key,
            head=head[:2] if head else None,
            head_checkpoint_seq=head[2] if head and sink is not None else 0,
            practice=chain in practices,
            sealed_before=sealed_before if sink is not None else None,
            load_checkpoint=sink.load if sink is not None else None,
        )
