"""AUD4: `confide audit verify` finds the first broken link, and says what broke.

How the tampering gets past the append-only triggers, per layer:

* **The verifier itself** (`confide.audit.verify.verify_chain`) is a pure function over an
  iterable of entries plus the signed checkpoints, so the property tests (hypothesis) tamper
  with an in-memory chain: edit any single hashed field (or the stored hash) of any entry,
  delete any entry, insert a forged, correctly hashed and linked entry anywhere (renumbering
  the rest), swap any two, truncate the tail after a checkpoint (fixing the head row as an
  attacker would). Each must be reported at the right sequence number with the right kind.
  These run in both passes.
* **SQLite, real rows**: inside the test's transaction the triggers are dropped (DDL is
  transactional in SQLite, so the rollback restores them), rows are tampered with raw SQL, and
  `call_command("audit", "verify")` must exit 1 naming the right seq. Random positions and
  fields again, each hypothesis example in a savepoint of its own that is rolled back.
* **PostgreSQL, real rows**: the application role cannot disable the trigger (it does not own
  the table) and another connection cannot see the test transaction's rows, so these rows are
  committed for real by a subprocess running as the application role, tampered with by the
  owning role (DATABASE_MIGRATE_URL) which disables the trigger inside its own transaction,
  verified by `confide audit verify` in a subprocess, and removed again by the owner.
"""

from __future__ import annotations

import datetime
import io
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from confide.audit import checkpoints
from confide.audit.chain import CONTENT_FIELDS, HASHED_FIELDS, content_hash, content_values, entry_hash, link_hash, record, seal, sealed_hash
from confide.audit.checkpoints import StoredCheckpoint
from confide.audit.events import AuditEvent
from confide.audit.models import GENESIS, AuditEntry, ChainHead
from confide.audit.verify import Row, verify_chain
from tests.audit.sealing import seal_all
from tests.audit.conftest import (
    ON_POSTGRES,
    append_in_subprocess,
    new_chain,
    owner_connection,
    owner_remove_chains,
    owner_tamper,
    parse_failure,
    sqlite_triggers_dropped,
    subprocess_env,
    verify_in_subprocess,
)

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()
CHAIN = "5f0c1e2a-0000-4000-8000-00000000c4a1"
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


# --- an in-memory chain ---------------------------------------------------------------------
# Every in-memory property below runs on a chain of each format: entries sealed before audit
# 0007 (one hash over every field) and sealed ones since (content hash, then the chain hash).
FORMAT = {"v2": False}


@pytest.fixture(params=["before-0007", "v2"])
def chain_format(request):
    FORMAT["v2"] = request.param == "v2"
    yield request.param
    FORMAT["v2"] = False


def _link(values: dict, prev_hash: str) -> Row:
    values = values | {"prev_hash": prev_hash}
    if FORMAT["v2"]:
        content = content_hash(tuple(values[name] for name in CONTENT_FIELDS))
        return Row(**values, hash=link_hash(values["chain"], values["seq"], content, prev_hash), content_hash=content)
    return Row(**values, hash=entry_hash(Row(**values, hash="")))


def _entry_values(seq: int) -> dict:
    return {
        "chain": CHAIN, "seq": seq, "at": T0 + datetime.timedelta(seconds=seq), "event": "records:chart:opened",
        "practice_id": uuid.UUID(CHAIN), "actor_kind": "user", "actor_id": str(seq % 3), "actor_role": "clinician",
        "purpose": "treatment", "subject_id": uuid.UUID(int=seq), "resource_ids": [str(seq)], "categories": ["contact.email"],
        "fields_changed": [], "outcome": "ok", "reason": "", "flagged": False, "detail": {"n": seq}, "request_id": f"r{seq}",
        "ip_address": "192.0.2.1", "user_agent": "UA", "prev_hash": "",
    }  # fmt: skip


def build(n: int) -> list[Row]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        rows.append(_link(_entry_values(seq), prev))
        prev = rows[-1].hash
    return rows


def signed(rows: list[Row], every: int) -> list[StoredCheckpoint]:
    return [
        StoredCheckpoint(f"mem/{r.seq}", r.seq, checkpoints.sign(CHAIN, r.seq, r.hash, at=T0, key=KEY))
        for r in rows
        if r.seq % every == 0
    ]


def check(rows, cps, head=None):
    ordered = sorted(enumerate(rows), key=lambda pair: (pair[1].seq, pair[0]))  # ORDER BY seq, id
    last = rows and max(rows, key=lambda r: r.seq)
    head = head if head is not None else ((last.seq, last.hash) if rows else None)
    return verify_chain(CHAIN, [row for _, row in ordered], cps, public_key=PUBLIC, head=head)


def _changed(field: str, value):
    """A different value of the same kind."""
    if field == "at":
        return value + datetime.timedelta(microseconds=1)
    if field in {"practice_id", "subject_id"}:
        return uuid.uuid4()
    if field in {"resource_ids", "categories", "fields_changed"}:
        return [*value, "tampered"]
    if field == "detail":
        return value | {"tampered": 1}
    if field == "flagged":
        return not value
    if field in {"prev_hash", "hash"}:
        return "f" * 64
    return value + "x"


chains = st.integers(min_value=2, max_value=40).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, 8)))


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=150, deadline=None)
@given(chains, st.data())
def test_a_clean_chain_verifies(shape, data):
    n, every = shape
    rows = build(n)
    report = check(rows, signed(rows, every))
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (n, n // every)


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=300, deadline=None)
@given(chains, st.data())
def test_editing_any_field_of_any_entry_is_found_at_that_entry(shape, data):
    n, every = shape
    rows = build(n)
    k = data.draw(st.integers(1, n), label="k")
    field = data.draw(st.sampled_from([f for f in (*HASHED_FIELDS, "hash", *(("content_hash",) if FORMAT["v2"] else ())) if f != "seq"]), label="field")
    rows[k - 1] = rows[k - 1]._replace(**{field: _changed(field, getattr(rows[k - 1], field))})
    first = check(rows, signed(build(n), every), head=(n, build(n)[-1].hash)).first
    assert (first.seq, first.kind) == (k, "edited"), first


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=200, deadline=None)
@given(chains, st.data())
def test_editing_the_seq_of_any_entry_is_found_where_the_order_first_breaks(shape, data):
    n, every = shape
    rows = build(n)
    k = data.draw(st.integers(1, n), label="k")
    new = data.draw(st.integers(-3, n + 5).filter(lambda v: v != k), label="new seq")
    rows[k - 1] = rows[k - 1]._replace(seq=new)
    first = check(rows, signed(build(n), every), head=(n, build(n)[-1].hash)).first
    assert first.seq == min(k, new) and first.kind in {"deleted", "inserted"}, first


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=200, deadline=None)
@given(chains, st.data())
def test_deleting_any_entry_is_found_at_its_seq(shape, data):
    n, every = shape
    rows = build(n)
    k = data.draw(st.integers(1, n), label="k")
    cps = signed(rows, every)
    head = (n, rows[-1].hash)
    del rows[k - 1]
    first = check(rows, cps, head=head).first
    assert first.seq == k and first.kind in ({"deleted", "truncated"} if k == n else {"deleted"}), first


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=200, deadline=None)
@given(chains, st.data())
def test_inserting_a_forged_well_linked_entry_anywhere_is_found_at_its_seq(shape, data):
    """The forgery is hashed and linked correctly; the entries after it are renumbered."""
    n, every = shape
    rows = build(n)
    cps = signed(rows, every)
    k = data.draw(st.integers(1, n + 1), label="k")
    prev = rows[k - 2].hash if k > 1 else GENESIS
    forged = _link(_entry_values(k) | {"actor_id": "intruder"}, prev)
    rows = rows[: k - 1] + [forged] + [r._replace(seq=r.seq + 1) for r in rows[k - 1 :]]
    first = check(rows, cps, head=(n, build(n)[-1].hash)).first
    assert (first.seq, first.kind) == (k, "inserted"), first


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=200, deadline=None)
@given(chains, st.data())
def test_swapping_any_two_entries_is_found_at_the_first(shape, data):
    n, every = shape
    rows = build(n)
    i = data.draw(st.integers(1, n - 1), label="i")
    j = data.draw(st.integers(i + 1, n), label="j")
    rows[i - 1], rows[j - 1] = rows[i - 1]._replace(seq=j), rows[j - 1]._replace(seq=i)
    first = check(rows, signed(build(n), every), head=(n, build(n)[-1].hash)).first
    assert (first.seq, first.kind) == (i, "reordered"), first


@pytest.mark.usefixtures("chain_format")
@hsettings(max_examples=200, deadline=None)
@given(st.integers(4, 40), st.integers(1, 4), st.data())
def test_truncating_the_tail_after_a_checkpoint_is_found_at_the_first_missing_seq(n, every, data):
    """The attacker also moves the chain head back, so only the checkpoint outside the database tells."""
    rows = build(n)
    cps = signed(rows, every)
    last_checkpoint = max(cp.seq for cp in cps)
    t = data.draw(st.integers(1, last_checkpoint), label="first removed")
    kept = rows[: t - 1]
    head = (t - 1, kept[-1].hash) if kept else None
    first = check(kept, cps, head=head).first
    assert (first.seq, first.kind) == (t, "truncated"), first


@pytest.mark.usefixtures("chain_format")
def test_truncating_with_the_head_moved_back_and_no_checkpoint_after_is_not_detectable():
    """The limit of the design, stated: what no checkpoint covers, a writer to the database can cut."""
    rows = build(12)
    cps = signed(rows, 5)  # 5, 10
    assert check(rows[:11], cps, head=(11, rows[10].hash)).ok


@pytest.mark.usefixtures("chain_format")
def test_a_rewritten_chain_with_recomputed_hashes_is_caught_by_the_checkpoint():
    rows = build(12)
    cps = signed(rows, 5)
    forged = rows[:3]
    for seq in range(4, 13):  # entry 4 edited, everything after it re-hashed and re-linked
        values = _entry_values(seq) | ({"outcome": "denied"} if seq == 4 else {})
        forged.append(_link(values, forged[-1].hash))
    first = check(forged, cps).first
    assert (first.seq, first.kind) == (5, "rewritten"), first


@pytest.mark.usefixtures("chain_format")
@pytest.mark.parametrize("part", ["hash", "seq", "at", "signature", "key"])
def test_a_tampered_or_foreign_checkpoint_is_a_bad_signature(part):
    rows = build(10)
    cps = signed(rows, 5)
    cp = cps[1].checkpoint
    forged = {
        "hash": lambda: cp.__class__(**{**cp.__dict__, "hash": rows[8].hash}),
        "seq": lambda: cp.__class__(**{**cp.__dict__, "seq": 9}),
        "at": lambda: cp.__class__(**{**cp.__dict__, "at": "2030-01-01T00:00:00.000000Z"}),
        "signature": lambda: cp.__class__(**{**cp.__dict__, "signature": cps[0].checkpoint.signature}),
        "key": lambda: checkpoints.sign(CHAIN, 10, rows[9].hash, key=Ed25519PrivateKey.generate()),
    }[part]()
    report = check(rows, [cps[0], StoredCheckpoint("mem/x", forged.seq, forged)])
    assert report.first.kind == "bad-signature" and report.first.seq == forged.seq, report.problems


@pytest.mark.usefixtures("chain_format")
def test_a_checkpoint_of_another_chain_is_refused():
    rows = build(10)
    other = checkpoints.sign("platform", 5, rows[4].hash, key=KEY)
    report = check(rows, [StoredCheckpoint("mem/other", 5, other)])
    assert (report.first.seq, report.first.kind) == (5, "bad-checkpoint")


@pytest.mark.usefixtures("chain_format")
def test_the_chain_head_row_is_checked_against_the_last_entry():
    rows = build(6)
    assert check(rows, [], head=(7, "a" * 64)).first.kind == "deleted"
    assert (check(rows, [], head=(5, rows[4].hash)).first.seq, check(rows, [], head=(5, rows[4].hash)).first.kind) == (6, "inserted")
    assert check(rows, [], head=(6, "a" * 64)).first.kind == "edited"


@pytest.mark.usefixtures("chain_format")
def test_the_verifier_streams_its_input():
    """Constant memory: it consumes a generator once, never holding the chain."""

    def generate(n):
        prev = GENESIS
        for seq in range(1, n + 1):
            row = _link(_entry_values(seq), prev)
            prev = row.hash
            yield row

    report = verify_chain(CHAIN, generate(5000), [], public_key=PUBLIC, head=None)
    assert report.entries == 5000 and [p.kind for p in report.problems] == ["head"]


# --- the command on real rows ---------------------------------------------------------------
def verify_command(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


in_the_test_transaction = pytest.mark.skipif(
    ON_POSTGRES,
    reason="SQLite pass: on PostgreSQL verify reads as the owning role, which cannot see the test's transaction "
    "(the PostgreSQL pass verifies committed rows: test_postgres_tampering_committed_rows_is_detected, test_verify_loud_postgres.py)",
)


def _committed_chain(n: int, capture) -> str:
    chain = new_chain()
    with capture(execute=True):
        for _ in range(n):
            record(AuditEvent.CHART_OPENED, practice_id=chain, purpose="treatment", categories=["contact.email"])
        seal(chain)  # the sealer's pass, committed with the entries: the checkpoints it schedules are written
    return chain


@in_the_test_transaction
def test_verify_ok_counts_entries_and_checkpoints(db, settings, sink_dir, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 4
    before = AuditEntry.objects.count()  # 0, unless another test committed rows (PostgreSQL)
    _committed_chain(10, django_capture_on_commit_callbacks)
    _committed_chain(3, django_capture_on_commit_callbacks)
    record(AuditEvent.SIGNIN_FAILED)
    code, output = verify_command()
    assert code == 0 and f"OK {before + 14} entries, 2 checkpoints\n" in output


@in_the_test_transaction
def test_verify_one_practice_by_slug(world, settings, sink_dir, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 2
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id)
        record(AuditEvent.CHART_OPENED, practice_id=world.b.practice.id)
        seal_all()
    for where in (world.a, world.b):  # 5 and 1 entries, and whatever setting up the world wrote
        chain = str(where.practice.id)
        entries = AuditEntry.objects.filter(chain=chain).count()
        signed = len(list((sink_dir / chain).glob("*.json")))
        assert verify_command("--practice", where.practice.slug) == (0, f"OK {entries} entries, {signed} checkpoints\n")
    assert len(list((sink_dir / str(world.a.practice.id)).glob("*.json"))) >= 2
    with pytest.raises(CommandError, match="no practice with slug 'nope'"):
        call_command("audit", "verify", "--practice", "nope")


@in_the_test_transaction
def test_verify_names_the_practice_of_a_broken_chain(world, settings, sink_dir, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 2
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id)
        seal_all()
    path = sink_dir / str(world.a.practice.id) / "000000000004.json"
    tampered = path.read_bytes().replace(b'"seq": 4', b'"seq": 3')
    path.chmod(0o644)
    path.write_bytes(tampered)
    code, output = verify_command()
    assert code == 1 and f"FAIL chain {world.a.practice.id} (a): first bad seq 4: bad-checkpoint" in output


@in_the_test_transaction
def test_verify_with_a_pinned_public_key(db, settings, sink_dir, tmp_path, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 2
    chain = _committed_chain(4, django_capture_on_commit_callbacks)
    pinned = tmp_path / "pinned.pub"
    pinned.write_bytes((checkpoints.keyring_dir() / "audit-signing.pub").read_bytes())
    assert verify_command("--public-key", str(pinned))[0] == 0
    # The server's key replaced (checkpoints re-signed by an intruder's key): the pinned copy rejects them.
    other = Ed25519PrivateKey.generate()
    for path in sorted((sink_dir / chain).iterdir()):
        cp = checkpoints.Checkpoint.from_json(path.read_bytes())
        path.chmod(0o644)
        path.write_bytes(checkpoints.sign(chain, cp.seq, cp.hash, key=other).to_json())
    code, output = verify_command("--public-key", str(pinned))
    failure = parse_failure(output)[chain]
    assert code == 1 and (failure["seq"], failure["kind"]) == (2, "bad-signature"), output


# --- SQLite: tampering with real rows, the triggers dropped inside the test's transaction -----
SQLITE_EDITS = {
    "chain": "chain = 'platform'",
    "seq": "seq = seq + 1000",
    "at": "at = '2020-01-01 00:00:00'",
    "event": "event = event || 'x'",
    "practice_id": "practice_id = 'ffffffffffffffffffffffffffffffff'",
    "actor_kind": "actor_kind = 'token'",
    "actor_id": "actor_id = actor_id || '9'",
    "actor_role": "actor_role = 'owner'",
    "purpose": "purpose = 'marketing'",
    "subject_id": "subject_id = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee'",
    "resource_ids": "resource_ids = '[\"tampered\"]'",
    "categories": "categories = '[]'",
    "fields_changed": "fields_changed = '[\"diagnosis\"]'",
    "outcome": "outcome = 'denied'",
    "reason": "reason = 'immaterial'",
    "flagged": "flagged = 1 - flagged",
    "detail": "detail = '{\"tampered\": true}'",
    "request_id": "request_id = 'req-x'",
    "ip_address": "ip_address = '203.0.113.9'",
    "user_agent": "user_agent = 'curl'",
    "prev_hash": "prev_hash = hash",
    "hash": "hash = prev_hash",
    "content_hash": "content_hash = hash",
}
assert set(SQLITE_EDITS) == {*HASHED_FIELDS, "hash", "content_hash"}


def _sql(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _sqlite_tamper(chain: str, n: int, how: str, k: int, j: int, field: str) -> tuple[int, set[str]]:
    """Tamper with chain (n entries, checkpoints every 4) in place; the seq and kinds verify must report."""
    if how == "edit":
        _sql(f"UPDATE audit_auditentry SET {SQLITE_EDITS[field]} WHERE chain = %s AND seq = %s", [chain, k])
        return k, ({"deleted"} if field in {"chain", "seq"} else {"edited"})
    if how == "delete":
        _sql("DELETE FROM audit_auditentry WHERE chain = %s AND seq = %s", [chain, k])
        return k, {"deleted", "truncated"} if k == n else {"deleted"}
    if how == "insert":
        for seq in range(n, k - 1, -1):
            _sql("UPDATE audit_auditentry SET seq = seq + 1 WHERE chain = %s AND seq = %s", [chain, seq])
        template = AuditEntry.objects.get(chain=chain, seq=k + 1)
        previous = AuditEntry.objects.filter(chain=chain, seq=k - 1).values_list("hash", flat=True).first() or GENESIS
        forged = AuditEntry(**{f: getattr(template, f) for f in HASHED_FIELDS} | {"seq": k, "actor_id": "intruder", "prev_hash": previous})
        forged.content_hash = content_hash(content_values(forged))  # forged in the current format, as an intruder would
        forged.hash = sealed_hash(forged)
        forged.save(force_insert=True)
        return k, {"inserted"}
    if how == "swap":
        _sql("UPDATE audit_auditentry SET seq = -1 WHERE chain = %s AND seq = %s", [chain, k])
        _sql("UPDATE audit_auditentry SET seq = %s WHERE chain = %s AND seq = %s", [k, chain, j])
        _sql("UPDATE audit_auditentry SET seq = %s WHERE chain = %s AND seq = -1", [j, chain])
        return k, {"reordered"}
    # truncate: everything from the last checkpoint's seq at the latest (k <= 4 * (n // 4)), head moved back too
    t = min(k, 4 * (n // 4))
    _sql("DELETE FROM audit_auditentry WHERE chain = %s AND seq >= %s", [chain, t])
    last = AuditEntry.objects.filter(chain=chain, seq=t - 1).values_list("hash", flat=True).first() or GENESIS
    ChainHead.objects.filter(chain=chain).update(seq=t - 1, hash=last)
    return t, {"truncated"}


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite pass: the PostgreSQL version is test_postgres_tampering_committed_rows_is_detected")
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    how=st.sampled_from(["edit", "delete", "insert", "swap", "truncate"]),
    n=st.integers(4, 12),
    positions=st.data(),
    field=st.sampled_from(sorted(SQLITE_EDITS)),
)
def test_sqlite_tampering_real_rows_is_detected_at_the_right_seq(db, settings, sink_dir, django_capture_on_commit_callbacks, how, n, positions, field):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 4
    k = positions.draw(st.integers(1, n - 1 if how == "swap" else n), label="k")
    j = positions.draw(st.integers(k + 1, n), label="j") if how == "swap" else 0
    with transaction.atomic():
        chain = _committed_chain(n, django_capture_on_commit_callbacks)
        assert verify_command("--chain", chain)[0] == 0
        with sqlite_triggers_dropped():
            expected_seq, kinds = _sqlite_tamper(chain, n, how, k, j, field)
        code, output = verify_command("--chain", chain)
        transaction.set_rollback(True)  # the rows and the dropped triggers: back as they were
    failure = parse_failure(output).get(chain)
    assert code == 1 and failure, output
    assert failure["seq"] == expected_seq and failure["kind"] in kinds, (how, k, j, field, failure["line"])


def test_sqlite_triggers_are_back_after_a_tamper_test(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite pass")
    entry = record(AuditEvent.SIGNIN_FAILED)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        _sql("DELETE FROM audit_auditentry WHERE id = %s", [entry.id])


# --- PostgreSQL: committed rows, tampered by the owning role ----------------------------------
@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
def test_postgres_tampering_committed_rows_is_detected(tmp_path, django_db_setup):
    edited, deleted, truncated, swapped, clean = chains = [new_chain() for _ in range(5)]
    env = subprocess_env(tmp_path, CONFIDE_AUDIT_CHECKPOINT_EVERY="5")
    try:
        result = append_in_subprocess(env, chains, threads=1, per_thread=12, migrate=False)
        assert result == {"appended": 60, "sealed": 60, "errors": []}
        with owner_connection() as conn:
            owner_tamper(
                conn,
                ("UPDATE audit_auditentry SET outcome = 'denied' WHERE chain = %s AND seq = 7", (edited,)),
                ("DELETE FROM audit_auditentry WHERE chain = %s AND seq = 3", (deleted,)),
                ("DELETE FROM audit_auditentry WHERE chain = %s AND seq >= 9", (truncated,)),
                ("UPDATE audit_auditentry SET seq = -seq WHERE chain = %s AND seq IN (4, 8)", (swapped,)),
                ("UPDATE audit_auditentry SET seq = 12 + seq WHERE chain = %s AND seq IN (-4, -8)", (swapped,)),
                ("UPDATE audit_chainhead SET seq = 8, hash = (SELECT hash FROM audit_auditentry WHERE chain = %s AND seq = 8) "
                 "WHERE chain = %s", (truncated, truncated)),  # fmt: skip
            )
        run = verify_in_subprocess(env)
        assert run.returncode == 1, run.stdout + run.stderr
        failures = parse_failure(run.stdout)
        found = {chain: (failures[chain]["seq"], failures[chain]["kind"]) for chain in chains if chain in failures}
        assert found == {edited: (7, "edited"), deleted: (3, "deleted"), truncated: (9, "truncated"), swapped: (4, "reordered")}
        clean_run = verify_in_subprocess(env, "--chain", clean)
        assert clean_run.returncode == 0 and clean_run.stdout.strip() == "OK 12 entries, 2 checkpoints", clean_run.stdout + clean_run.stderr
    finally:
        owner_remove_chains(chains)
