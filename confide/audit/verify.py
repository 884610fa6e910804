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
* its hash ≠ the hash its format gives (`row_hash`) with prev_hash linking to the entry before →
  **edited**: for an entry sealed since audit 0007, its content must match its content hash and
  its hash be link_hash(chain, seq, content_hash, prev_hash); for one sealed before, SHA-256 of
  canonical(entry) over every hashed field; an entry in the older format after one in the newer
  is **edited** too (a downgrade: the chain was rewritten);
* it claims the same predecessor as the entry before it → **inserted** (that one was slipped in);
* prev_hash ≠ the previous entry's hash → **reordered** (entries swapped or moved; or the entry
  before was rewritten with a recomputed hash);
* an unsealed entry (seq NULL; verify seals first, so one written since, or one the sealer
  refused) whose content hash is missing or does not match its content → **edited**, named by id.

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

import bisect
import datetime
import functools
import json
import uuid
from collections import deque, namedtuple
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from hashlib import sha256

from confide.audit.canonical import encoder
from confide.audit.chain import CONTENT_FIELDS, HASHED_FIELDS, LINK_DOMAIN, encode_hashed, link_hash
from confide.audit.checkpoints import MAX_LISTED, Checkpoint, CheckpointError, CheckpointSink, StoredCheckpoint, signature_problem
from confide.audit.events import AuditEvent
from confide.audit.models import GENESIS

# What the walk reads of an entry, in this order, by index: the hashed fields, the stored chain
# hash, the content hash (None: an entry sealed before audit 0007, whose hash covers its content
# directly) and the id (names an entry the sealer refused: it has no seq to be named by).
ROW_FIELDS = (*HASHED_FIELDS, "hash", "content_hash", "id")
Row = namedtuple("Row", ROW_FIELDS, defaults=(None, None))
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
    segments: int = 1  # walked in this many segments (verify_in_segments)
    processes: int = 1  # by this many processes at once

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


_FIELDS = len(HASHED_FIELDS)
_CHAIN, _SEQ, _AT, _EVENT, _DETAIL, _PREV = (HASHED_FIELDS.index(name) for name in ("chain", "seq", "at", "event", "detail", "prev_hash"))
_HASH, _CONTENT, _ID = (ROW_FIELDS.index(name) for name in ("hash", "content_hash", "id"))
_encode_content = encoder(CONTENT_FIELDS, layout=ROW_FIELDS)  # a v2 entry's content, straight from its row
_LINK_DOMAIN = LINK_DOMAIN


class _ContentMismatch(str):
    """What `row_hash` gives for a v2 row whose content does not match its stored content hash:
    unequal to every stored hash, whatever text that holds (None or "" included)."""

    def __eq__(self, other) -> bool:
        return False

    def __ne__(self, other) -> bool:
        return True

    __hash__ = str.__hash__


CONTENT_MISMATCH = _ContentMismatch("content-mismatch")


def row_hash(row) -> str:
    """The hash the row's content and link give (what its stored hash must be): the one place the
    formats are told apart. An entry sealed before audit 0007 (content_hash None): SHA-256 of the
    canonical bytes of every hashed field. A v2 entry: its content must match its stored content
    hash (else CONTENT_MISMATCH, equal to no stored hash), and its chain hash is
    link_hash(chain, seq, content_hash, prev_hash) over that stored content hash."""
    content = row[_CONTENT]
    if content is None:
        return sha256(encode_hashed(row)).hexdigest()
    if sha256(_encode_content(row)).hexdigest() != content:
        return CONTENT_MISMATCH
    return sha256(_LINK_DOMAIN + f"{row[_CHAIN]}\n{row[_SEQ]}\n{content}\n{row[_PREV]}".encode()).hexdigest()  # ≡ link_hash


def _content_ok(row) -> bool:
    """An unsealed row's stored content hash matches its content (a missing one does not)."""
    content = row[_CONTENT]
    return content is not None and sha256(_encode_content(row)).hexdigest() == content


def _with_prev(row, prev_hash: str) -> str:
    """The hash the row would have with `prev_hash` as its link (tells an edited link from a moved row)."""
    content = row[_CONTENT]
    if content is not None:
        return link_hash(row[_CHAIN], row[_SEQ], content, prev_hash)
    values = list(row[:_FIELDS])
    values[_PREV] = prev_hash
    return sha256(encode_hashed(values)).hexdigest()


def _timestamp(at: str) -> str:
    return at.replace("T", " ").removesuffix("Z")


@dataclass
class WalkState:
    """Everything the walk carries from one entry to the next: what a segment verified in another
    process hands back, and what the next one must have started from for the two to be one walk."""

    expected: int = 1
    prev: str | None = GENESIS
    prev_prev: str | None = None
    last_seq: int = 0
    last_hash: str | None = GENESIS
    genesis_seq: int = 0
    pinpointed: bool = False
    unsealed: bool = False
    v2_seen: int = 0  # the first entry in the format of audit 0007 (0: none yet): one in the older format after it is a downgrade
    recent: deque = field(default_factory=lambda: deque(maxlen=MAX_LISTED))  # (seq, hash) of the last entries: where a rewrite begins

    def link(self) -> tuple:
        """What the next entry is checked against (`recent` only names a rewrite: it does not decide
        one; of `v2_seen` only whether a v2 entry came before, which the entry before a segment
        tells: after a clean walk, every entry from the first v2 one on is v2)."""
        return (self.expected, self.prev, self.prev_prev, self.last_seq, self.last_hash, bool(self.v2_seen))


@dataclass
class _Signed:
    """The chain's checkpoints whose signatures verified, by seq; `last` the highest seq."""

    by_seq: dict[int, list]
    locations: dict[int, str]
    last: int


def _check_checkpoints(report: ChainReport, chain: str, checkpoints: Iterable[StoredCheckpoint], public_key, head_checkpoint_seq: int) -> _Signed:
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
    return _Signed(signed, locations, max(signed, default=0))


def _walk(
    report: ChainReport,
    state: WalkState,
    rows: Iterable,
    signed: _Signed,
    *,
    practice: bool,
    sealed_before: datetime.datetime | None,
    load_checkpoint: Callable[[str], Checkpoint] | None,
) -> None:
    """Check `rows` (ordered by seq, id) from `state` on, popping the checkpoints they reach from
    `signed.by_seq`; leaves `state` as it is after the last row. The hot loop of verify: what the
    clean path does per entry is one encoding, one SHA-256, a few comparisons."""
    expected, prev, prev_prev = state.expected, state.prev, state.prev_prev
    last_seq, last_hash = state.last_seq, state.last_hash
    recent, by_seq, last_signed = state.recent, signed.by_seq, signed.last
    entries = 0
    v2_seen = state.v2_seen
    check_sealed = sealed_before is not None and not state.unsealed
    for row in rows:
        entries += 1
        seq, stored = row[_SEQ], row[_HASH]
        if seq == expected:
            row_prev = row[_PREV]
            hash_ok = row_hash(row) == stored
            link_ok = row_prev == prev
            if row[_CONTENT] is None:
                downgraded = v2_seen  # the format before audit 0007 after one in the new format
            else:
                downgraded = 0
                if not v2_seen:
                    v2_seen = seq
            if hash_ok and link_ok and not downgraded:
                pass
            elif not link_ok and prev_prev is not None and row_prev == prev_prev and seq > 1:
                report.add(seq - 1, "inserted", f"entries {seq - 1} and {seq} both follow entry {seq - 2}: entry {seq - 1} was inserted")
            elif downgraded:
                report.add(seq, "edited", f"entry {seq} is in the format before audit 0007, after entry {downgraded} in the new one: it was rewritten")
            elif not hash_ok and (link_ok or _with_prev(row, prev) == stored):
                report.add(seq, "edited", "the stored hash does not match the entry's content: the entry was edited")
            elif not hash_ok:
                report.add(seq, "reordered", f"neither its hash nor its link to entry {seq - 1} matches: entries were reordered (or this one rewritten)")
            else:
                report.add(seq, "reordered", f"prev_hash does not match entry {seq - 1}'s hash: entries before it were reordered, replaced or removed")
        elif seq is None:  # unsealed: verify seals first, so written since, or refused by the sealer
            entries -= 1
            if not _content_ok(row):
                entries += 1
                why = "it has no content hash" if row[_CONTENT] is None else "its content does not match its content hash"
                report.add(last_seq + 1, "edited", f"entry id {row[_ID]} was not sealed: {why} (inserted or edited behind the triggers' back)")
            continue  # a sound entry written after the seal: the next verify checks it
        elif seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            report.add(expected, "deleted", f"seq gap: entry {missing} is missing (deleted); the next entry is seq {seq}")
        else:
            report.add(seq, "inserted", f"seq {seq} again after seq {expected - 1}: a duplicate or out-of-order entry was inserted")
        if practice and row[_EVENT] == GENESIS_EVENT:
            state.genesis_seq = _check_genesis(report, row, state.genesis_seq)
        if check_sealed and seq > last_signed and row[_AT] < sealed_before:
            check_sealed, state.unsealed = False, True
            report.add(seq, "unsealed",
                       f"entry {seq} was written at {row[_AT]:%Y-%m-%d %H:%M:%S} UTC and no checkpoint covers it, though the task "
                       "worker seals a tail within CONFIDE_AUDIT_CHECKPOINT_MINUTES: checkpoints were deleted, or no worker is "
                       "running (`confide audit checkpoint` seals every chain now)")  # fmt: skip
        recent.append((seq, stored))
        if seq in by_seq:
            for cp in by_seq.pop(seq):
                if cp.hash != stored:
                    first = _first_rewritten(cp, signed.locations.get(seq), recent, load_checkpoint) if not state.pinpointed else None
                    state.pinpointed = True
                    report.add(first or seq, "rewritten",
                               f"entry {first or seq}'s hash differs from the one the checkpoint at seq {seq} (signed {_timestamp(cp.at)}) "
                               + ("lists for it: the chain was rewritten from this entry on" if first else "recorded: the chain up to it was rewritten"))  # fmt: skip
        prev_prev, prev = row[_PREV], stored
        if seq >= expected:
            expected = seq + 1
        if seq >= last_seq:
            last_seq = seq
        last_hash = stored
    report.entries += entries
    state.expected, state.prev, state.prev_prev, state.last_seq, state.last_hash = expected, prev, prev_prev, last_seq, last_hash
    state.v2_seen = v2_seen


def _finish(
    report: ChainReport, state: WalkState, signed: _Signed, head: tuple[int, str] | None, *, practice: bool, start_seq: int = 1,
    head_now: Callable[[], tuple[int, str] | None] | None = None,
) -> None:
    """What only the end of the walk can tell: checkpoints no entry reached, the genesis entry, the head row.
    `head` was read before the walk; `head_now()` reads it again, after: on a live server the sealer
    goes on sealing while verify walks, so entries beyond the first reading are inserted only if
    they are beyond the second too (the head only grows, and only with the entries it names)."""
    last_seq, last_hash = state.last_seq, state.last_hash
    for seq, cps in sorted(signed.by_seq.items()):
        if start_seq > 1 and seq < start_seq:
            continue  # before the part verified: its signature was checked, its entry is not here
        if seq > last_seq:
            report.add(last_seq + 1, "truncated",
                       f"the checkpoint signed at {cps[0].at} covers seq {seq}, but the last entry is seq {last_seq}: "
                       f"entries {last_seq + 1}..{seq} were truncated")  # fmt: skip
        else:
            report.add(seq, "deleted", f"entry {seq}, named by the checkpoint signed at {cps[0].at}, is missing")

    if practice and not state.genesis_seq and start_seq == 1:
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
        later = head_now() if head_now is not None else None
        if later is None or later[0] < last_seq:
            head = later or head
            report.add(head[0] + 1, "inserted", f"entries {head[0] + 1}..{last_seq} are beyond the chain head (seq {head[0]}): inserted")
        elif later[0] == last_seq and later[1] != last_hash:
            report.add(last_seq, "edited", f"the chain head's hash differs from entry {last_seq}'s hash")
        # later[0] > last_seq: sealed after the walk passed the tail; the next verify checks them
    elif head[1] != last_hash:
        report.add(last_seq, "edited", f"the chain head's hash differs from entry {last_seq}'s hash")


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
    start_seq: int = 1,
    start_prev: str = GENESIS,
) -> ChainReport:
    """Check one chain in one pass. `rows` ordered by seq (then id): tuples of the hashed fields in
    HASHED_FIELDS order and then the stored hash (a `Row`, a `values_list` row); `head` is the
    ChainHead row's (seq, hash), None if absent. `practice`: the chain is a practice's, so it must
    exist and hold its genesis entry. `sealed_before`: entries written before then must be covered
    by a checkpoint. `load_checkpoint(location)`: a stored checkpoint in full (its hash list), to
    name where a rewrite begins. `start_seq`/`start_prev`: check only the entries from `start_seq`
    on, trusting `start_prev` as entry start_seq-1's hash (a signed checkpoint's): the checkpoints
    before it are checked for their signature only, and the genesis entry is not looked for."""
    report = ChainReport(chain)
    signed = _check_checkpoints(report, chain, checkpoints, public_key, head_checkpoint_seq)
    state = WalkState(expected=start_seq, prev=start_prev, last_seq=start_seq - 1, last_hash=start_prev)
    _walk(report, state, rows, signed, practice=practice, sealed_before=sealed_before, load_checkpoint=load_checkpoint)
    _finish(report, state, signed, head, practice=practice, start_seq=start_seq)
    return report


def _check_genesis(report: ChainReport, row, genesis_seq: int) -> int:
    """A genesis entry belongs at seq 1, or appended (audit 0004) after as many entries as it says."""
    if genesis_seq:
        report.add(row[_SEQ], "genesis", f"a second genesis entry (the first is seq {genesis_seq}): it was inserted")
        return genesis_seq
    seq, detail = row[_SEQ], row[_DETAIL]
    detail = detail if isinstance(detail, dict) else {}
    if seq != 1 and detail.get("existing_entries") != seq - 1:
        report.add(seq, "genesis", "a genesis entry in the middle of the chain that does not say how many entries came before it")
    return seq


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


# --- one chain in segments, verified in parallel ------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """Entries lo ≤ seq < hi of a chain (lo None: from the first, seqs below 1 included; hi None:
    to the last) and the verified checkpoints among them."""

    chain: str
    lo: int | None
    hi: int | None
    signed: dict[int, list]
    last_signed: int
    practice: bool
    sealed_before: datetime.datetime | None


@dataclass
class SegmentResult:
    lo: int | None
    start: WalkState  # what the segment assumed the walk before it left
    end: WalkState
    entries: int
    clean: bool
    consumed: frozenset[int]  # the checkpoint seqs its entries reached


def verify_segment(segment: Segment, rows: Iterable, boundary: tuple[str, str, str | None] | None) -> SegmentResult:
    """Walk one segment on its own. It starts from the stored entry before it (`boundary`: the
    (hash, prev_hash, content_hash) of the one entry at lo-1, None if there is not exactly one),
    as the walk before would leave it on an untouched chain; `merge_segments` checks that it did.
    A v2 entry there (a content hash) means the walk before has seen one: a legacy entry in this
    segment is then a downgrade."""
    if segment.lo is None:
        start = WalkState()
    else:
        stored, link, content = boundary if boundary is not None else (None, None, None)
        start = WalkState(expected=segment.lo, prev=stored, prev_prev=link, last_seq=segment.lo - 1, last_hash=stored,
                          v2_seen=segment.lo - 1 if content is not None else 0)  # fmt: skip
    state = replace(start, recent=deque(maxlen=MAX_LISTED))
    report = ChainReport(segment.chain)
    signed = _Signed(dict(segment.signed), {}, segment.last_signed)
    _walk(report, state, rows, signed, practice=segment.practice, sealed_before=segment.sealed_before, load_checkpoint=None)
    return SegmentResult(segment.lo, start, state, report.entries, report.ok and not report.more_problems,
                         frozenset(segment.signed) - frozenset(signed.by_seq))  # fmt: skip


def plan_segments(length: int, checkpoint_seqs: Iterable[int], size: int) -> list[int]:
    """Where segments after the first begin: every `size` entries, moved to just after the nearest
    signed checkpoint within size/2 (a segment then starts from a hash a signature vouches for)."""
    if size < 1 or length <= size:
        return []
    seqs, starts = sorted(checkpoint_seqs), []
    for target in range(1 + size, length + 1, size):
        i = bisect.bisect_left(seqs, target - 1)
        near = [seq + 1 for seq in seqs[max(i - 1, 0) : i + 1] if abs(seq + 1 - target) <= size // 2]
        begin = min(near, key=lambda s: abs(s - target)) if near else target
        if begin > (starts[-1] if starts else 1):
            starts.append(begin)
    return starts


def segments_of(chain: str, starts: list[int], signed: _Signed, *, practice: bool, sealed_before) -> list[Segment]:
    bounds = list(zip([None, *starts], [*starts, None], strict=True))
    return [
        Segment(chain, lo, hi, {seq: cps for seq, cps in signed.by_seq.items() if (lo is None or seq >= lo) and (hi is None or seq < hi)},
                signed.last, practice, sealed_before)  # fmt: skip
        for lo, hi in bounds
    ]


def merge_segments(
    report: ChainReport,
    state: WalkState,
    signed: _Signed,
    results: Iterable[SegmentResult],
    rows_from: Callable[[int | None], Iterable],
    *,
    practice: bool,
    sealed_before,
    load_checkpoint,
) -> None:
    """Join the segments' walks into the one walk a single pass makes. A clean segment that started
    from the state the walk before it left is that walk's continuation: take its end state. At the
    first segment with a problem, or that started from a state the walk did not leave (an entry
    missing, duplicated or moved at its border), walk on here from its first seq, streaming the
    rest of the chain, with the true state: the problems, their messages and their order are then
    those of a single pass by construction (a tampered chain costs a second read of its tail)."""
    for result in results:
        genesis_twice = bool(state.genesis_seq and result.end.genesis_seq)
        if not result.clean or genesis_twice or result.start.link() != state.link():
            _walk(report, state, rows_from(result.lo), signed, practice=practice, sealed_before=sealed_before, load_checkpoint=load_checkpoint)
            return
        end = result.end
        state.expected, state.prev, state.prev_prev, state.last_seq, state.last_hash = end.expected, end.prev, end.prev_prev, end.last_seq, end.last_hash
        state.genesis_seq = state.genesis_seq or end.genesis_seq
        state.v2_seen = state.v2_seen or end.v2_seen  # the first v2 entry of the chain, not of the segment
        state.recent.extend(end.recent)
        report.entries += result.entries
        for seq in result.consumed:
            signed.by_seq.pop(seq, None)


def verify_in_segments(
    chain: str,
    checkpoints: Iterable[StoredCheckpoint],
    *,
    public_key,
    head: tuple[int, str] | None,
    head_checkpoint_seq: int = 0,
    practice: bool = False,
    sealed_before: datetime.datetime | None = None,
    load_checkpoint: Callable[[str], Checkpoint] | None = None,
    size: int,
    run: SegmentRunner | Callable[[list[Segment]], Iterable[SegmentResult]],
    rows_from: Callable[[int | None], Iterable],
    head_now: Callable[[], tuple[int, str] | None] | None = None,
) -> ChainReport:
    """`verify_chain`'s report, the walk split into segments of about `size` entries (by the head's
    seq) that `run` verifies (in a process pool, or here); `rows_from(lo)` streams the entries from
    seq lo on (None: all), for a single pass or the walk on after a problem. A chain of at most `size` entries is
    one pass."""
    report = ChainReport(chain)
    signed = _check_checkpoints(report, chain, checkpoints, public_key, head_checkpoint_seq)
    state = WalkState()
    starts = plan_segments(head[0] if head else 0, signed.by_seq, size)
    if starts:
        segments = segments_of(chain, starts, signed, practice=practice, sealed_before=sealed_before)
        report.segments, report.processes = len(segments), getattr(run, "processes", lambda segments: 1)(segments)
        results = (run.run if isinstance(run, SegmentRunner) else run)(segments)
        merge_segments(report, state, signed, results, rows_from, practice=practice, sealed_before=sealed_before, load_checkpoint=load_checkpoint)
    else:
        _walk(report, state, rows_from(None), signed, practice=practice, sealed_before=sealed_before, load_checkpoint=load_checkpoint)
    _finish(report, state, signed, head, practice=practice, head_now=head_now)
    return report


# --- the database side -----------------------------------------------------------------------


def stream_rows(
    chain: str, chunk_size: int = 5000, *, using: str = "default", lo: int | None = None, hi: int | None = None, fields: tuple[str, ...] = ROW_FIELDS
) -> Iterator[tuple]:
    """A chain's entries (lo ≤ seq < hi) ordered by seq, id, as tuples of `fields`, read in chunks
    (a server-side cursor on PostgreSQL): no model instances, no namedtuples, and not Django's
    per-row converters either, which cost twice the driver's own fetch (bench/audit.py). Each
    value is what `values_list` returns — through Django's own converter for anything out of the
    ordinary — except a UUID, which comes as its canonical text (the same canonical bytes; on
    PostgreSQL the database writes it: `::text`). tests/audit/test_verify_rows.py holds the two
    to the same hashes on both databases, odd stored values included.

    With no `hi` (the chain's tail), the unsealed entries (seq NULL) follow, by id, on both
    databases (SQLite sorts NULL first, PostgreSQL last): a second query rather than an ORDER BY
    on `seq IS NULL`, so each reads in index order ((chain, seq), and the sealer's partial index)
    instead of sorting the chain. verify seals first, so these were written since or refused."""
    from django.db import connections

    from confide.audit.models import AuditEntry

    connection = connections[using]
    quote = connection.ops.quote_name
    kinds = [AuditEntry._meta.get_field(name).get_internal_type() for name in fields]
    columns = [f"{quote(name)}::text" if kind == "UUIDField" and connection.vendor == "postgresql" else quote(name) for name, kind in zip(fields, kinds, strict=True)]
    select = f"SELECT {', '.join(columns)} FROM {quote(AuditEntry._meta.db_table)} WHERE {quote('chain')} = %s AND "
    where, params = [f"{quote('seq')} IS NOT NULL"], [chain]
    if lo is not None:
        where.append(f"{quote('seq')} >= %s")
        params.append(lo)
    if hi is not None:
        where.append(f"{quote('seq')} < %s")
        params.append(hi)
    queries = [(f"{select}{' AND '.join(where)} ORDER BY {quote('seq')}, {quote('id')}", params)]
    if hi is None:
        queries.append((f"{select}{quote('seq')} IS NULL ORDER BY {quote('id')}", [chain]))
    convert = _converter(kinds, connection)
    for sql, query_params in queries:
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, query_params)
            while batch := cursor.fetchmany(chunk_size):
                yield from map(convert, batch)


def _converter(kinds: list[str], connection) -> Callable[[tuple], tuple]:
    """Raw driver row → the values `values_list` would give (see stream_rows). Generated once per
    call: one tuple expression, a converter only where the type needs one."""
    sqlite = connection.vendor == "sqlite"
    zone = connection.timezone
    if sqlite:  # PostgreSQL's driver returns aware datetimes: Django converts nothing there
        django_at = functools.partial(connection.ops.convert_datetimefield_value, expression=None, connection=connection)

    def at(value):  # SQLite's driver parsed the text already (Django registers the converter); Django makes it aware
        if type(value) is datetime.datetime and value.tzinfo is None and zone is not None:
            return value.replace(tzinfo=zone)  # ≡ timezone.make_aware(value, connection.timezone)
        return django_at(value)

    def text_uuid(value):  # SQLite stores 32 hex digits; str(uuid.UUID(...)) is what the canonical bytes hold
        if value is None:
            return None
        if type(value) is str and len(value) == 32 and not value.strip("0123456789abcdef"):
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        return str(uuid.UUID(value))  # anything else as Django's converter reads it (or refuses it)

    def json_value(value):  # ≡ JSONField.from_db_value
        if value is None:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value

    names = {"DateTimeField": "at" if sqlite else None, "UUIDField": "text_uuid" if sqlite else None, "JSONField": "json_value"}
    parts = [f"{names[kind]}(r[{i}])" if names.get(kind) else f"r[{i}]" for i, kind in enumerate(kinds)]
    namespace = {"at": at, "text_uuid": text_uuid, "json_value": json_value}
    exec(compile(f"def convert(r):\n    return ({', '.join(parts)},)\n", "<audit row converter>", "exec"), namespace)  # noqa: S102 — indexes and fixed names only
    return namespace["convert"]


def _boundary(chain: str, seq: int, using: str) -> tuple[str, str, str | None] | None:
    from confide.audit.models import AuditEntry

    found = list(AuditEntry.objects.using(using).filter(chain=chain, seq=seq).values_list("hash", "prev_hash", "content_hash")[:2])
    return found[0] if len(found) == 1 else None


def verify_segment_in_database(segment: Segment, chunk_size: int, using: str) -> SegmentResult:
    boundary = _boundary(segment.chain, segment.lo - 1, using) if segment.lo is not None else None
    return verify_segment(segment, stream_rows(segment.chain, chunk_size, using=using, lo=segment.lo, hi=segment.hi), boundary)


def _child_started() -> None:
    """A pool process: Django is set up (inherited when forked); its database connections were
    closed before the fork, so it opens its own."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _in_child(args: tuple[Segment, int, str]) -> SegmentResult:
    return verify_segment_in_database(*args)


class SegmentRunner:
    """Verifies segments in order: in a pool of `jobs` processes (made on first use, after closing
    the database connections so no child shares a socket), or here with jobs=1 or inside a
    transaction (other processes could not see its rows). Results come back in segment order."""

    def __init__(self, jobs: int, *, chunk_size: int, using: str):
        self.jobs, self.chunk_size, self.using = max(1, jobs), chunk_size, using
        self._pool = None

    def _executor(self):
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            from django.db import connections

            connections.close_all()  # forked children must not inherit an open connection
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context(method), initializer=_child_started)
        return self._pool

    def processes(self, segments: list[Segment]) -> int:
        from django.db import connections

        return 1 if self.jobs == 1 or len(segments) == 1 or connections[self.using].in_atomic_block else min(self.jobs, len(segments))

    def run(self, segments: list[Segment]) -> Iterator[SegmentResult]:
        if self.processes(segments) == 1:
            for segment in segments:
                yield verify_segment_in_database(segment, self.chunk_size, self.using)
            return
        futures = [self._executor().submit(_in_child, (segment, self.chunk_size, self.using)) for segment in segments]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()  # a merge that stopped early (a problem: the rest is walked here)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


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
    jobs: int = 1,
    segment_entries: int | None = None,
) -> Iterator[ChainReport]:
    """`sink` None: it cannot be read (the command has said so), so there are no checkpoints to check.
    A chain longer than `segment_entries` (CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES) is verified in
    segments of about that many entries, `jobs` processes at a time; the reports are those of a
    single pass (`merge_segments`)."""
    from django.conf import settings

    from confide.audit.models import ChainHead

    size = segment_entries or settings.CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES
    runner = SegmentRunner(jobs, chunk_size=chunk_size, using=using)
    try:
        for chain in chains:
            head = ChainHead.objects.using(using).filter(chain=chain).values_list("seq", "hash", "checkpoint_seq").first()
            yield verify_in_segments(
                chain, sink.read(chain) if sink is not None else (), public_key=public_key, head=head[:2] if head else None,
                head_checkpoint_seq=head[2] if head and sink is not None else 0, practice=chain in practices,
                sealed_before=sealed_before if sink is not None else None, load_checkpoint=sink.load if sink is not None else None,
                size=size, run=runner, rows_from=lambda lo, chain=chain: stream_rows(chain, chunk_size, using=using, lo=lo),
                head_now=lambda chain=chain: ChainHead.objects.using(using).filter(chain=chain).values_list("seq", "hash").first(),
            )  # fmt: skip
    finally:
        runner.close()
