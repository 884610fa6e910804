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

from confide.audit.chain import HASHED_FIELDS
from confide.audit.models import GENESIS
from confide.audit.verify import GENESIS_EVENT, Row, plan_segments, verify_chain, verify_in_segments, verify_segment
from tests.audit.conftest import ON_POSTGRES, append_in_subprocess, new_chain, run_python, subprocess_env
from tests.audit.test_verify import CHAIN, PUBLIC, T0, _changed, _entry_values, _link, build, signed


def _ordered(rows):
    return [row for _, row in sorted(enumerate(rows), key=lambda pair: (pair[1].seq, pair[0]))]  # ORDER BY seq, id


def single(rows, cps, head, **options):
    return verify_chain(CHAIN, _ordered(rows), cps, public_key=PUBLIC, head=head, **options)


def segmented(rows, cps, head, size, **options):
    ordered = _ordered(rows)

    def between(lo, hi):
        return [r for r in ordered if (lo is None or r.seq >= lo) and (hi is None or r.seq < hi)]

    def boundary(lo):
        at = [(r.hash, r.prev_hash) for r in ordered if r.seq == lo - 1]
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
        name = data.draw(st.sampled_from([f for f in (*HASHED_FIELDS, "hash") if f != "seq"]), label="field")
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
    return rows


@hsettings(max_examples=400, deadline=None)
@given(
    n=st.integers(1, 40),
    every=st.integers(1, 8),
    size=st.integers(1, 9),
    kinds=st.lists(st.sampled_from(["none", "edit", "seq", "delete", "delete-run", "insert", "duplicate", "swap", "rewrite", "truncate"]), min_size=1, max_size=3),
    head_kind=st.sampled_from(["true", "last row", "none"]),
    data=st.data(),
)
def test_segments_report_exactly_what_one_pass_reports(n, every, size, kinds, head_kind, data):
    rows = build(n)
    cps = signed(rows, every)
    for kind in kinds:
        if rows:
            rows = tampered(kind, rows, data)
    last = max(rows, key=lambda r: r.seq) if rows else None
    head = {"true": (n, build(n)[-1].hash), "last row": (last.seq, last.hash) if last else None, "none": None}[head_kind]
    practice = data.draw(st.booleans(), label="practice")
    one = single(rows, cps, head, practice=practice)
    parts, segments = segmented(rows, cps, head, size, practice=practice)
    assert same(parts, one), (parts.problems, one.problems)
    if head and head[0] > size:
        assert segments > 1  # it did go through the segments


def test_a_clean_chain_in_segments_takes_each_segment_as_it_comes():
    rows = build(100)
    cps = signed(rows, 10)
    report, segments = segmented(rows, cps, (100, rows[-1].hash), 25)
    assert report.ok and (report.entries, report.checkpoints, segments) == (100, 10, 4)


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
    assert append_in_subprocess(env, chains, threads=1, per_thread=60, migrate=True) == {"appended": 120, "errors": []}

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
