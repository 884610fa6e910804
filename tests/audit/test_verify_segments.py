"""`confide audit verify` in parallel segments reports exactly what one pass reports.

A long chain is split into segments (after signed checkpoints where there are some), each walked
in a process of its own from the stored entry before it, and the walks are joined
(`verify.merge_segments`): a clean segment that started where the walk before it ended continues
it; at the first one that did not, or that found a problem, the walk goes on in one pass with the
true state. So every tampering the one-pass tests make must give the same problems, messages,
order and counts whatever the segment size — property-tested here on in-memory chains with
segments of 1 to 9 entries (borders land on every kind of damage), and on real rows with the
command, in a pool of processes on a database file of a subprocess's own.

The whole tamper suite also runs through the segments with CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES=3
(in the test's transaction the segments are walked in this process: other processes cannot see its
rows; the PostgreSQL pass verifies committed rows in subprocesses, in a pool).
"""

from __future__ import annotations

import datetime
import sqlite3

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from confide.audit.chain import CONTENT_FIELDS, HASHED_FIELDS, content_hash, entry_hash
from confide.audit.models import GENESIS
from confide.audit.verify import GENESIS_EVENT, Row, plan_segments, verify_chain, verify_in_segments, verify_segment
from tests.audit.conftest import ON_POSTGRES, append_in_subprocess, new_chain, run_python, subprocess_env
from tests.audit.test_verify import CHAIN, FORMAT, PUBLIC, T0, _changed, _entry_values, _link, build, chain_format, signed  # noqa: F401 — the fixture


def _ordered(rows):
    """ORDER BY seq, id with the unsealed entries (seq None) last, by id: what stream_rows gives."""
    return [row for _, row in sorted(enumerate(rows), key=lambda pair: (pair[1].seq is None, pair[1].seq or 0, pair[1].id or 0, pair[0]))]


def single(rows, cps, head, **options):
    return verify_chain(CHAIN, _ordered(rows), cps, public_key=PUBLIC, head=head, **options)


def segmented(rows, cps, head, size, **options):
    ordered = _ordered(rows)

    def between(lo, hi):  # as stream_rows: the unsealed entries with the tail only
        if hi is None:
            return [r for r in ordered if r.seq is None or lo is None or r.seq >= lo]
        return [r for r in ordered if r.seq is not None and (lo is None or r.seq >= lo) and r.seq < hi]

    def boundary(lo):
        at = [(r.hash, r.prev_hash, r.content_hash) for r in ordered if r.seq == lo - 1]
        return at[0] if len(at) == 1 else None

    def run(segments):
        runs["segments"] += len(segments)
        for segment in segments:
            yield verify_segment(segment, between(segment.lo, segment.hi), boundary(segment.lo) if segment.lo is not None else None)

    runs = {"segments": 0}
    report = verify_in_segments(CHAIN, cps, public_key=PUBLIC, head=head, size=size, run=run, rows_from=lambda lo: between(lo, None), **options)
    return report, runs["segments"]


def same(a, b):
    return (a.entries, a.checkpoints, a.problems, a.more_problems, a.warnings) == (b.entries, b.checkpoints, b.problems, b.more_problems, b.warnings)


def tampered(kind: str, rows: list[Row], data) -> list[Row]:
    n = len(rows)
    k = data.draw(st.integers(1, n), label="k")
    if kind == "edit":
        fields = [f for f in (*HASHED_FIELDS, "hash", "content_hash") if f != "seq" and (f != "content_hash" or rows[k - 1].content_hash)]
        name = data.draw(st.sampled_from(fields), label="field")
        rows[k - 1] = rows[k - 1]._replace(**{name: _changed(name, getattr(rows[k - 1], name))})
    elif kind == "seq":
        rows[k - 1] = rows[k - 1]._replace(seq=data.draw(st.integers(-3, n + 5).filter(lambda v: v != k), label="new seq"))
    elif kind == "delete":
        del rows[k - 1]
    elif kind == "delete-run":
        del rows[k - 1 : k - 1 + data.draw(st.integers(1, 5), label="how many")]
    elif kind == "insert":
        prev = rows[k - 2].hash if k > 1 else GENESIS
        forged = _link(_entry_values(k) | {"actor_id": "intruder"}, prev)
        rows = rows[: k - 1] + [forged] + [r._replace(seq=r.seq + 1) for r in rows[k - 1 :]]
    elif kind == "duplicate":
        rows.insert(k, rows[k - 1])
    elif kind == "swap" and n > 1:
        i, j = sorted(data.draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True), label="i, j"))
        rows[i - 1], rows[j - 1] = rows[i - 1]._replace(seq=j), rows[j - 1]._replace(seq=i)
    elif kind == "rewrite":  # entry k edited and every later one re-hashed and re-linked: only a checkpoint tells
        forged = rows[: k - 1]
        for seq in range(k, n + 1):
            forged.append(_link(_entry_values(seq) | ({"outcome": "denied"} if seq == k else {}), forged[-1].hash if forged else GENESIS))
        rows = forged
    elif kind == "truncate":
        rows = rows[: k - 1]
    elif kind == "reformat":  # entries k.. re-hashed and re-linked in the other format: an upgrade, or a downgrade
        FORMAT["v2"] = not FORMAT["v2"]
        try:
            forged = rows[: k - 1]
            for r in rows[k - 1 :]:
                forged.append(_link({name: getattr(r, name) for name in HASHED_FIELDS}, forged[-1].hash if forged else GENESIS))
        finally:
            FORMAT["v2"] = not FORMAT["v2"]
        rows = forged
    elif kind == "legacy-one":  # one v2 entry rewritten in the older format, its link kept
        r = rows[k - 1]
        values = {name: getattr(r, name) for name in HASHED_FIELDS}
        rows[k - 1] = r._replace(content_hash=None, hash=entry_hash(Row(**values, hash="")))
    return rows


def unsealed(rows: list[Row], kinds: list[str]) -> list[Row]:
    """Entries the sealer has not reached (seq, prev_hash and hash NULL), after the sealed ones:
    sound (written since the seal), without a content hash, or with a wrong one (both written
    behind the triggers; the sealer refuses them)."""
    extra = []
    for i, kind in enumerate(kinds):
        values = _entry_values(1000 + i) | {"seq": None, "prev_hash": None, "actor_id": f"late{i}"}
        content = {"sound": content_hash(tuple(values[name] for name in CONTENT_FIELDS)), "none": None, "wrong": "0" * 64}[kind]
        extra.append(Row(**values, hash=None, content_hash=content, id=10_000 + i))
    return rows + extra


KINDS = ["none", "edit", "seq", "delete", "delete-run", "insert", "duplicate", "swap", "rewrite", "truncate", "reformat", "legacy-one"]


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=400, deadline=None)
@given(
    n=st.integers(1, 40),
    every=st.integers(1, 8),
    size=st.integers(1, 9),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
    late=st.lists(st.sampled_from(["sound", "none", "wrong"]), max_size=3),
    head_kind=st.sampled_from(["true", "last row", "none"]),
    data=st.data(),
)
def test_segments_report_exactly_what_one_pass_reports(n, every, size, kinds, late, head_kind, data):
    """On chains of each format (sealed before audit 0007, v2), tampered, partly re-written in the
    other format (an upgrade verifies, a downgrade is refused), and followed by unsealed entries,
    sound or not."""
    rows = build(n)
    cps = signed(rows, every)
    for kind in kinds:
        if rows:
            rows = tampered(kind, rows, data)
    rows = unsealed(rows, late)
    sealed_rows = [r for r in rows if r.seq is not None]
    last = max(sealed_rows, key=lambda r: r.seq) if sealed_rows else None
    head = {"true": (n, build(n)[-1].hash), "last row": (last.seq, last.hash) if last else None, "none": None}[head_kind]
    practice = data.draw(st.booleans(), label="practice")
    one = single(rows, cps, head, practice=practice)
    parts, segments = segmented(rows, cps, head, size, practice=practice)
    assert same(parts, one), (parts.problems, one.problems)
    if head and head[0] > size:
        assert segments > 1  # it did go through the segments


@pytest.mark.usefixtures("chain_format")
def test_a_clean_chain_in_segments_takes_each_segment_as_it_comes():
    rows = build(100)
    cps = signed(rows, 10)
    report, segments = segmented(unsealed(rows, ["sound"]), cps, (100, rows[-1].hash), 25)
    assert report.ok and (report.entries, report.checkpoints, segments) == (100, 10, 4)


def test_a_downgrade_and_unsealed_entries_are_reported_across_segments_as_in_one_pass():
    """A v2 chain whose entries from 13 on were re-written in the older format, followed by an
    entry without a content hash: the downgrade from 13 on (a segment border with size 12) and the
    unsealed entry, named by id, whatever the segment size."""
    FORMAT["v2"] = True
    try:
        rows = build(30)
    finally:
        FORMAT["v2"] = False
    forged = rows[:12]
    for seq in range(13, 31):
        forged.append(_link(_entry_values(seq), forged[-1].hash))
    rows = unsealed(forged, ["sound", "none"])
    head = (30, forged[-1].hash)
    one = single(rows, [], head)
    assert [(p.seq, p.kind) for p in one.problems] == [(seq, "edited") for seq in range(13, 32)], one.problems  # each older-format entry, then the unsealed one
    assert "format before audit 0007, after entry 1 " in one.problems[0].message and "entry id 10001 was not sealed: it has no content hash" in one.problems[-1].message
    for size in (3, 5, 12, 13, 29):
        parts, _ = segmented(rows, [], head, size)
        assert same(parts, one), (size, parts.problems)


@pytest.mark.parametrize(
    ("second", "sealed", "expected"),
    [({}, True, [(11, "unsealed"), (17, "genesis")]), ({"existing_entries": 16}, False, [(17, "genesis")])],
    ids=["bare-and-unsealed", "saying-16-came-before"],
)
def test_the_unsealed_check_and_the_genesis_rule_cross_segments_as_in_one_pass(second, sealed, expected):
    """A genesis entry at seq 1 and a second one at 17, in a later segment, where on its own it can
    look like a legitimate appended genesis; with `sealed_before`, entries from 11 on are older than
    it and after the last checkpoint (10)."""
    rows, prev = [], GENESIS
    for seq in range(1, 31):
        genesis = {"event": GENESIS_EVENT, "detail": second if seq == 17 else {}} if seq in (1, 17) else {}
        rows.append(_link(_entry_values(seq) | genesis, prev))
        prev = rows[-1].hash
    cps, head = signed(rows[:10], 5), (30, rows[-1].hash)
    options = {"practice": True, "sealed_before": T0 + datetime.timedelta(seconds=20) if sealed else None}
    one = single(rows, cps, head, **options)
    assert [(p.seq, p.kind) for p in one.problems] == expected
    for size in (3, 5, 7, 10, 16, 17, 29):
        parts, _ = segmented(rows, cps, head, size, **options)
        assert same(parts, one), (size, parts.problems)


def test_segments_begin_after_signed_checkpoints_near_even_splits():
    assert plan_segments(100, [], 25) == [26, 51, 76]
    assert plan_segments(100, range(10, 101, 10), 25) == [21, 51, 71]  # after checkpoints 20, 50, 70
    assert plan_segments(100, [3], 25) == [26, 51, 76]  # none near: even splits
    assert plan_segments(25, [10], 25) == [] and plan_segments(0, [], 25) == []


# --- the command, in a pool of processes, on committed rows -------------------------------------
@pytest.mark.skipif(ON_POSTGRES, reason="SQLite: a database file of the subprocess's own (the PostgreSQL pass runs the tamper suite through the pool)")
def test_the_command_in_a_process_pool_reports_what_one_process_reports(tmp_path):
    chains = [new_chain(), new_chain()]
    env = subprocess_env(tmp_path, CONFIDE_AUDIT_CHECKPOINT_EVERY="10", CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES="7")
    assert append_in_subprocess(env, chains, threads=1, per_thread=60, migrate=True) == {"appended": 120, "sealed": 120, "errors": []}

    def verify(*args):
        result = run_python(["-m", "django", "audit", "--verbosity", "2", "verify", "--chain", chains[0], *args], env)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, result.stdout

    clean = f"ok chain {chains[0]}: 60 entries, 6 checkpoints ({{}} segments, {{}} processes)\nOK 60 entries, 6 checkpoints\n"
    assert verify("--jobs", "2") == (0, clean.format(9, 2))  # segments begin after checkpoints 10, 20, … near every 7th entry
    assert verify("--jobs", "1") == (0, clean.format(9, 1))
    database = sqlite3.connect(next(tmp_path.glob("*.sqlite3")))
    triggers = database.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditentry'").fetchall()
    for name, _ in triggers:
        database.execute(f'DROP TRIGGER "{name}"')
    database.execute("UPDATE audit_auditentry SET outcome = 'denied' WHERE chain = ? AND seq = 23", [chains[0]])
    database.execute("DELETE FROM audit_auditentry WHERE chain = ? AND seq IN (41, 42)", [chains[0]])  # a segment's border (after checkpoint 40)
    database.execute("UPDATE audit_auditentry SET seq = 1000 WHERE chain = ? AND seq = 55", [chains[0]])
    for _, sql in triggers:
        database.execute(sql)
    database.commit()
    database.close()
    one, parallel = verify("--jobs", "1"), verify("--jobs", "2")
    assert one == parallel and one[0] == 1, (one, parallel)
    assert f"FAIL chain {chains[0]}: first bad seq 23: edited" in one[1] and "seq 41: deleted" in one[1] and "seq 55: deleted" in one[1], one[1]
