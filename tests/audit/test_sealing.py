"""AUD1, AUD2: an entry is inserted unsealed with its content hash, and sealed once.

`record()` inserts one row (one statement: no lock, no savepoint) with `content_hash` and no
seq/hash; the sealer gives a chain's unsealed entries, in id order, gap-free seqs and their
chain hashes. The database allows exactly that one transition (audit 0007): an entry inserted
sealed or without a content hash, an UPDATE of a sealed entry, or of any other column while
sealing, is refused. An entry the triggers were bypassed for (no content hash, or content that
no longer matches it) is not sealed, and `verify` names it.
"""

from __future__ import annotations

import datetime
import io
import logging

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from confide.audit import chain as chains
from confide.audit.chain import CONTENT_FIELDS, content_canonical, content_hash, content_values, link_hash, record, seal
from confide.audit.events import AuditEvent
from confide.audit.models import GENESIS, AuditEntry, ChainHead
from confide.audit.verify import Row, verify_chain
from tests.audit.conftest import ON_POSTGRES, new_chain, refused_sql, sqlite_triggers_dropped
from tests.audit.sealing import sealed
from tests.audit.test_verify import verify_command

in_the_test_transaction = pytest.mark.skipif(ON_POSTGRES, reason="SQLite pass: verify reads as the owner on PostgreSQL, outside the test's transaction")


def _append(chain: str, n: int) -> list[AuditEntry]:
    return [record(AuditEvent.CHART_OPENED, practice_id=chain, purpose="treatment", resource_ids=[str(i)]) for i in range(n)]


def test_record_inserts_one_unsealed_row_with_its_content_hash_in_one_statement(db, django_assert_num_queries):
    chain = new_chain()
    with django_assert_num_queries(1):
        entry = record(AuditEvent.CHART_OPENED, practice_id=chain, purpose="treatment", categories=["contact.email"])
    stored = AuditEntry.objects.get(id=entry.id)
    assert (stored.seq, stored.prev_hash, stored.hash) == (None, None, None)
    assert stored.content_hash == entry.content_hash == content_hash(content_values(stored))  # survives the round trip
    assert not ChainHead.objects.filter(chain=chain).exists()  # no head touched: the sealer moves it


def test_the_content_encoding_is_the_canonical_one_without_seq_and_prev_hash(db):
    entry = record(AuditEvent.CHART_OPENED, practice_id=new_chain(), subject_id=None, detail={"b": 1, "a": [2]})
    raw = content_canonical(content_values(entry))
    assert raw.startswith(b'{"actor_id":"","actor_kind":"anonymous"') and b'"seq"' not in raw and b'"prev_hash"' not in raw
    assert f'"at":"{entry.at.astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%S.%f}Z"'.encode() in raw
    assert b'"detail":{"a":[2],"b":1}' in raw and set(CONTENT_FIELDS) == {*chains.HASHED_FIELDS} - {"seq", "prev_hash"}


def test_the_sealer_assigns_gap_free_seqs_in_id_order_and_links_each_once(db):
    chain = new_chain()
    entries = _append(chain, 7)
    assert seal(chain, batch=3) == 7  # three batches: 3, 3, 1
    stored = list(AuditEntry.objects.filter(chain=chain).order_by("id"))
    assert [e.seq for e in stored] == list(range(1, 8)) and [e.id for e in stored] == [e.id for e in entries]
    prev = GENESIS
    for entry in stored:
        assert entry.prev_hash == prev and entry.hash == link_hash(chain, entry.seq, entry.content_hash, prev)
        prev = entry.hash
    head = ChainHead.objects.get(chain=chain)
    assert (head.seq, head.hash) == (7, prev)
    assert seal(chain) == 0  # sealed once: a second pass finds nothing
    assert sealed(record(AuditEvent.CHART_OPENED, practice_id=chain)).seq == 8


def test_seal_all_seals_every_chain_that_waits(db):
    a, b = new_chain(), new_chain()
    _append(a, 2)
    _append(b, 3)
    assert chains.unsealed_chains() == sorted([a, b]) or set(chains.unsealed_chains()) >= {a, b}
    chains.seal_all()
    assert {a, b}.isdisjoint(chains.unsealed_chains())
    assert sorted(AuditEntry.objects.filter(chain=b).values_list("seq", flat=True)) == [1, 2, 3]


def test_an_exception_mid_seal_keeps_nothing_and_the_next_seal_completes(db, monkeypatch):
    """After its UPDATEs, before the head moves: the seal's transaction rolls back whole."""
    chain = new_chain()
    _append(chain, 5)
    original = chains._write_seals

    def write_then_fail(rows, using):
        original(rows, using)
        raise RuntimeError("the sealer died after writing")

    monkeypatch.setattr(chains, "_write_seals", write_then_fail)
    with pytest.raises(RuntimeError, match="died"):
        seal(chain)
    assert list(AuditEntry.objects.filter(chain=chain).values_list("seq", flat=True)) == [None] * 5
    monkeypatch.undo()
    assert seal(chain) == 5
    assert sorted(AuditEntry.objects.filter(chain=chain).values_list("seq", flat=True)) == [1, 2, 3, 4, 5]


def test_entries_stamped_by_skewed_clocks_are_sealed_in_insertion_order_and_verify(db):
    """Clock skew between nodes: `at` is evidence, not order. The sealer orders by id."""
    chain = new_chain()
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=3), tick=False):
        future = record(AuditEvent.CHART_OPENED, practice_id=chain)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=2), tick=False):
        past = record(AuditEvent.CHART_OPENED, practice_id=chain)
    now = record(AuditEvent.CHART_OPENED, practice_id=chain)
    future, past, now = sealed(future, past, now)
    assert (future.seq, past.seq, now.seq) == (1, 2, 3)
    head = ChainHead.objects.get(chain=chain)
    assert head.checkpoint_at is not None and head.checkpoint_at <= timezone.now()  # the sealer's clock, not the entries'
    rows = AuditEntry.objects.filter(chain=chain).order_by("seq").values_list(*chains.HASHED_FIELDS, "hash", "content_hash", "id")
    assert verify_chain(chain, [Row._make(r) for r in rows], head=(3, now.hash)).ok


# --- the database's guards -----------------------------------------------------------------------
INSERT = (
    "INSERT INTO audit_auditentry (chain, seq, at, event, actor_kind, actor_id, actor_role, purpose, resource_ids, categories, "
    "fields_changed, outcome, reason, flagged, detail, request_id, user_agent, prev_hash, hash, content_hash) "
    "VALUES (%s, %s, %s, 'records:chart:opened', 'system', '', '', '', '[]', '[]', '[]', 'ok', '', false, '{}', '', '', %s, %s, %s)"
)


@pytest.mark.parametrize(
    "seq, prev_hash, hash_, content",
    [
        (None, None, None, None),  # no content hash: nothing could ever check its content
        (None, None, None, "not-a-hash"),
        (1, "0" * 64, "a" * 64, "b" * 64),  # inserted sealed: a seq and hash of its own choosing
        (None, None, "a" * 64, "b" * 64),
    ],
)
def test_aud2_an_entry_is_inserted_unsealed_with_a_content_hash_or_not_at_all(db, seq, prev_hash, hash_, content):
    chain = new_chain()
    if ON_POSTGRES:  # in the writer's scope, so row security is not what refuses it
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('confide.audit_chain', %s, true)", [chain])
    message = refused_sql(INSERT, [chain, seq, timezone.now(), prev_hash, hash_, content])
    assert "append-only" in message and "inserted unsealed" in message
    assert not AuditEntry.objects.filter(chain=chain).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditentry SET seq = 99, prev_hash = hash, hash = %s WHERE id = %s",  # sealed again
        "UPDATE audit_auditentry SET outcome = 'denied' WHERE id = %s",
        "UPDATE audit_auditentry SET seq = NULL, prev_hash = NULL, hash = NULL WHERE id = %s",  # unsealed again
        "UPDATE audit_auditentry SET content_hash = %s WHERE id = %s",
    ],
)
def test_aud2_a_sealed_entry_cannot_be_changed_or_sealed_again(db, sql):
    """SQLite: the trigger refuses. PostgreSQL, even in the sealer's scope: row security's
    audit_seal admits only unsealed entries to an UPDATE (it matches none), and the trigger
    behind it would refuse (the owner's case: test_triggers.py)."""
    entry = sealed(record(AuditEvent.CHART_OPENED, practice_id=new_chain()))
    params = (["f" * 64] if sql.count("%s") == 2 else []) + [entry.id]
    with _in_scope(entry.chain):
        if ON_POSTGRES:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                assert cursor.rowcount == 0
        else:
            assert "append-only" in refused_sql(sql, params)
    stored = AuditEntry.objects.get(id=entry.id)
    assert (stored.seq, stored.hash, stored.outcome, stored.content_hash) == (entry.seq, entry.hash, entry.outcome, entry.content_hash)


@pytest.mark.parametrize(
    "sets",
    [
        "seq = 1, prev_hash = %s, hash = %s, outcome = 'denied'",  # sealing while changing the content
        "seq = 1, prev_hash = %s, hash = %s, content_hash = prev_hash",
        "seq = 1, prev_hash = %s, hash = %s, at = at + interval '1 second'" if ON_POSTGRES else "seq = 1, prev_hash = %s, hash = %s, at = '2020-01-01'",
        "seq = 1, prev_hash = %s, hash = NULL",  # half sealed
        "outcome = 'denied', prev_hash = %s, hash = %s",  # not sealed at all
    ],
)
def test_aud2_an_unsealed_entry_may_only_be_sealed_nothing_else(db, sets):
    entry = record(AuditEvent.CHART_OPENED, practice_id=new_chain())
    params = ["0" * 64] * sets.count("%s") + [entry.id]
    with _in_scope(entry.chain):
        assert "append-only" in refused_sql(f"UPDATE audit_auditentry SET {sets} WHERE id = %s", params)
        with connection.cursor() as cursor:  # the one transition allowed, by hand as the sealer does it
            cursor.execute("UPDATE audit_auditentry SET seq = 1, prev_hash = %s, hash = %s WHERE id = %s", ["0" * 64, "a" * 64, entry.id])
    assert AuditEntry.objects.get(id=entry.id).seq == 1


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
def test_postgres_sealing_outside_the_chain_scope_is_refused(db):
    """Statement-level, like audit 0002: the application seals only through the sealer."""
    entry = record(AuditEvent.CHART_OPENED, practice_id=new_chain())
    assert "append-only" in refused_sql("UPDATE audit_auditentry SET seq = 1, prev_hash = %s, hash = %s WHERE id = %s", ["0" * 64, "a" * 64, entry.id])


class _in_scope:
    """PostgreSQL: the sealer's chain scope (row security and the statement trigger admit an
    UPDATE only there), so what refuses is the row trigger. SQLite: nothing to set."""

    def __init__(self, chain: str):
        self.chain = chain

    def __enter__(self):
        if ON_POSTGRES:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('confide.audit_chain', %s, true)", [self.chain])

    def __exit__(self, *exc):
        if ON_POSTGRES:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('confide.audit_chain', '', true)")


# --- entries the triggers were bypassed for ------------------------------------------------------
@in_the_test_transaction
@pytest.mark.parametrize("how", ["no content hash", "content edited"])
def test_aud2_an_entry_written_behind_the_triggers_is_not_sealed_and_verify_names_it(db, sink_dir, caplog, how):
    chain = new_chain()
    sealed(*_append(chain, 2))
    with transaction.atomic():
        with sqlite_triggers_dropped():
            if how == "no content hash":
                with connection.cursor() as cursor:
                    cursor.execute(INSERT, [chain, None, timezone.now(), None, None, None])
                    bad = cursor.lastrowid
            else:
                bad = _append(chain, 1)[0].id
                with connection.cursor() as cursor:
                    cursor.execute("UPDATE audit_auditentry SET outcome = 'denied' WHERE id = %s", [bad])
        good = _append(chain, 1)[0]
        with caplog.at_level(logging.ERROR, logger="confide.audit.chain"):
            assert seal(chain) == 1  # the sound one; the other refused
        assert AuditEntry.objects.get(id=bad).seq is None and AuditEntry.objects.get(id=good.id).seq == 3
        assert any(getattr(r, "event", "") == "audit:seal:refused" and getattr(r, "object_id", "") == str(bad) for r in caplog.records)
        code, output = verify_command("--chain", chain, "--allow-missing-checkpoints")
        transaction.set_rollback(True)
    assert code == 1 and f"entry id {bad} was not sealed" in output and "edited" in output, output


@in_the_test_transaction
def test_verify_and_export_seal_first(db, sink_dir, world, tmp_path):
    chain = str(world.a.practice.id)
    _append(chain, 3)
    assert verify_command("--chain", chain)[1].startswith("OK 4 entries")  # the genesis entry and three
    assert not AuditEntry.objects.filter(chain=chain, seq__isnull=True).exists()
    _append(chain, 2)
    call_command("audit", "export", "--practice", world.a.practice.slug, "--output", str(tmp_path / "out.csv"), stdout=io.StringIO())
    assert AuditEntry.objects.filter(chain=chain, seq__isnull=True).count() == 1  # only the export's own entry waits


@in_the_test_transaction
def test_aud2_entries_sealed_while_verify_walks_are_not_reported_as_inserted(db, sink_dir, world, monkeypatch):
    """On a live server the sealer goes on sealing while verify reads: the head verify read first
    is behind the entries it then streams. Not tampering: the head read again after the walk names them."""
    from confide.audit import verify as verifying

    chain = str(world.a.practice.id)
    _append(chain, 3)
    streaming = verifying.stream_rows

    def sealer_runs_meanwhile(*args, **kwargs):
        _append(chain, 2)
        seal(chain)
        return streaming(*args, **kwargs)

    monkeypatch.setattr(verifying, "stream_rows", sealer_runs_meanwhile)
    code, output = verify_command("--chain", chain)
    assert code == 0 and "inserted" not in output, output


def test_seal_command_once(db):
    chain = new_chain()
    _append(chain, 2)
    out = io.StringIO()
    call_command("audit", "seal", "--chain", chain, stdout=out)
    assert out.getvalue() == "2 entries sealed\n"


# --- the format boundary ---------------------------------------------------------------------------
def _legacy(seq: int, prev: str) -> Row:
    values = {name: "" for name in chains.HASHED_FIELDS} | {
        "chain": "c", "seq": seq, "at": timezone.now(), "practice_id": None, "subject_id": None, "resource_ids": [],
        "categories": [], "fields_changed": [], "flagged": False, "detail": {}, "ip_address": None, "prev_hash": prev,
    }  # fmt: skip
    return Row(**values, hash=chains.entry_hash(Row(**values, hash="")))


def _v2(seq: int, prev: str) -> Row:
    row = _legacy(seq, prev)
    content = content_hash(tuple(getattr(row, n) for n in CONTENT_FIELDS))
    return row._replace(content_hash=content, hash=link_hash("c", seq, content, prev))


def test_a_chain_sealed_before_and_after_the_upgrade_verifies():
    rows, prev = [], GENESIS
    for seq in range(1, 7):
        rows.append((_legacy if seq <= 3 else _v2)(seq, prev))
        prev = rows[-1].hash
    assert verify_chain("c", rows, head=(6, prev)).ok


def test_aud2_a_legacy_format_entry_after_a_v2_one_is_a_downgrade_and_refused():
    """Rewriting an entry in the weaker old format (no content hash) is caught even when its hash and link are right."""
    rows, prev = [], GENESIS
    for seq in range(1, 6):
        rows.append((_legacy if seq in (1, 4) else _v2)(seq, prev))
        prev = rows[-1].hash
    report = verify_chain("c", rows, head=(5, prev))
    assert (report.first.seq, report.first.kind) == (4, "edited") and "format before audit 0007" in report.first.message


def test_readers_show_entries_the_sealer_has_not_reached_yet_newest_first(world):
    """The patient's access report (and the stale-form page) order by seq: the unsealed are the newest."""
    import uuid

    from confide.audit.reports import patient_access_report

    chain, patient = str(world.a.practice.id), uuid.uuid4()
    first = record(AuditEvent.CHART_OPENED, practice_id=chain, subject_id=patient, purpose="treatment")
    seal(chain)
    later = record(AuditEvent.CHART_EXPORTED if hasattr(AuditEvent, "CHART_EXPORTED") else AuditEvent.CHART_CHANGED,
                   practice_id=chain, subject_id=patient, purpose="operations")  # fmt: skip
    rows = patient_access_report(world.a.practice.id, patient, shown_to_user=None)
    assert [r.event for r in rows] == [later.event, first.event]
