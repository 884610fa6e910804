"""AUD2 on PostgreSQL: each tamper case of issue 11 items 9–10 makes `confide audit verify` exit 1.

The rows are committed for real: practices and their entries by a child process as the
application role (tests/concurrency/harness.py, which removes them again afterwards), its
checkpoints in the child's data directory. The tampering is done as the owning role
(DATABASE_MIGRATE_URL), which owns the tables and so can switch their triggers and forced row
security off inside its own transaction, as an attacker with that role could; the application
role cannot (tests/audit/test_triggers.py, tests/audit/test_rls.py). Verify runs in this
process, reading as the owner like the command does by default.
"""

from __future__ import annotations

import datetime
import io
import json
import shutil
import subprocess
import sys

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.audit.conftest import ON_POSTGRES, owner_connection, owner_tamper, parse_failure
from tests.concurrency import harness

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")]


def scenario_practices_with_chains(params: dict) -> dict:
    """In the child: one committed practice per tag, with `n` chart openings after its genesis entry."""
    from confide.audit.chain import record, seal
    from confide.audit.events import AuditEvent
    from tests.concurrency.harness import new_world

    made = {}
    for tag in params["tags"]:
        world = new_world(tag)
        for _ in range(params["n"]):
            record(AuditEvent.CHART_OPENED, practice_id=world.practice.id, purpose="treatment")
        seal(str(world.practice.id))  # the sealer's pass (it writes the checkpoints, signed with this process's key)
        made[tag] = {"chain": str(world.practice.id), "slug": world.practice.slug}
    return made


def verify(data_dir, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    args = (*args, "--public-key", str(data_dir / "keyring" / "audit-signing.pub"))
    try:
        call_command("audit", "verify", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """The migrated test database, reachable outside a test transaction (committed rows)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def committed(tmp_path, settings, committed_db):
    """committed(*tags, n=11) -> {tag: {"chain", "slug"}}: practices committed by a child process
    (the concurrency harness's child, as the application role), checkpoints every 4 entries in
    its data directory, which this test's verify reads too. Removed again afterwards."""
    settings.CONFIDE_AUDIT_CHECKPOINT_SINK = "directory"
    settings.CONFIDE_AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES = 10
    env = harness.child_env(tmp_path, CONFIDE_AUDIT_CHECKPOINT_EVERY="4", CONFIDE_AUDIT_CHECKPOINT_MINUTES="10")
    target = f"{scenario_practices_with_chains.__module__}:{scenario_practices_with_chains.__qualname__}"

    def make(*tags: str, n: int = 11) -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "tests.concurrency.child", target], input=json.dumps({"tags": list(tags), "n": n}),
            env=env, cwd=harness.REPO, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    try:
        yield make
    finally:
        cleanup = tmp_path / harness.CLEANUP_FILE
        if cleanup.exists():
            harness.remove_practices(json.loads(cleanup.read_text()))


def _failure(outcome: tuple[int, str], chain: str) -> tuple[int, int, str]:
    code, output = outcome
    found = parse_failure(output).get(chain)
    assert found, output
    return code, found["seq"], found["kind"]


def test_aud2_postgres_each_tamper_case_fails_verify(tmp_path, committed):
    """(a) a practice's whole chain deleted; (c) checkpoints deleted and checkpoint_seq reset
    after a truncation (found once the seal window has passed); a rewrite named at its first
    changed entry; (b) the checkpoint sink deleted."""
    made = committed("gone", "cut", "rewritten", "clean")
    chain = {tag: made[tag]["chain"] for tag in made}
    slug = {tag: made[tag]["slug"] for tag in made}
    for tag in made:
        assert verify(tmp_path, "--practice", slug[tag])[0] == 0, tag

    with owner_connection() as conn:
        owner_tamper(
            conn,
            ("DELETE FROM audit_auditentry WHERE chain = %s", (chain["gone"],)),
            ("DELETE FROM audit_chainhead WHERE chain = %s", (chain["gone"],)),
            ("DELETE FROM audit_auditentry WHERE chain = %s AND seq > 8", (chain["cut"],)),
            ("UPDATE audit_chainhead SET seq = 8, checkpoint_seq = 4, "
             "hash = (SELECT hash FROM audit_auditentry WHERE chain = %s AND seq = 8) WHERE chain = %s", (chain["cut"], chain["cut"])),  # fmt: skip
        )
        _rewrite_from(conn, chain["rewritten"], 7)
    for seq in (8, 12):
        path = tmp_path / "audit-checkpoints" / chain["cut"] / f"{seq:012d}.json"
        path.chmod(0o644)
        path.unlink()

    assert _failure(verify(tmp_path, "--practice", slug["gone"]), chain["gone"]) == (1, 1, "deleted")
    assert verify(tmp_path, "--practice", slug["cut"])[0] == 0  # the stated limit: a tail younger than the seal window
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=21), tick=False):
        assert _failure(verify(tmp_path, "--practice", slug["cut"]), chain["cut"]) == (1, 5, "unsealed")
    assert _failure(verify(tmp_path, "--practice", slug["rewritten"]), chain["rewritten"]) == (1, 7, "rewritten")

    shutil.rmtree(tmp_path / "audit-checkpoints")
    code, output = verify(tmp_path, "--practice", slug["clean"])
    assert code == 1 and "FAIL checkpoint sink directory" in output and ": missing" in output, output
    code, output = verify(tmp_path, "--practice", slug["clean"], "--allow-missing-checkpoints")
    assert code == 0 and "WARNING checkpoint sink directory" in output, output


def _rewrite_from(conn, chain: str, first: int) -> None:
    """As the owner: edit entry `first`, then recompute the hash and link of it and every later
    entry, and the head: a rewrite only a checkpoint can reveal."""
    from confide.audit.chain import CONTENT_FIELDS, HASHED_FIELDS, content_hash, link_hash
    from confide.audit.verify import Row

    conn.execute("SELECT set_config('confide.test_reads_audit', 'off', false)")
    columns = ", ".join(HASHED_FIELDS)
    rows = conn.execute(f"SELECT id, {columns}, hash, content_hash FROM audit_auditentry WHERE chain = %s ORDER BY seq", [chain]).fetchall()
    statements, prev = [], None
    for row_id, *values in rows:
        row = Row(*values)
        if row.seq < first:
            prev = row.hash
            continue
        row = row._replace(prev_hash=prev, outcome="denied" if row.seq == first else row.outcome)
        row = row._replace(content_hash=content_hash(tuple(getattr(row, name) for name in CONTENT_FIELDS)))  # in the current format
        row = row._replace(hash=link_hash(row.chain, row.seq, row.content_hash, prev))
        statements.append(("UPDATE audit_auditentry SET outcome = %s, content_hash = %s, prev_hash = %s, hash = %s WHERE id = %s",
                           (row.outcome, row.content_hash, row.prev_hash, row.hash, row_id)))  # fmt: skip
        prev = row.hash
    statements.append(("UPDATE audit_chainhead SET hash = %s WHERE chain = %s", (prev, chain)))
    owner_tamper(conn, *statements)
