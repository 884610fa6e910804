"""Fixtures for the audit tests: an isolated checkpoint sink and signing key, raw access to the
append-only triggers, and (PostgreSQL) a connection as the owning role for the tamper tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from confide.audit import checkpoints

REPO = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("CONFIDE_TEST_DATABASE") == "postgres"
FAIL_LINE = re.compile(r"FAIL chain (?P<chain>\S+)[^:]*: first bad seq (?P<seq>-?\d+): (?P<kind>[a-z-]+): ")


@pytest.fixture
def keyring(tmp_path, monkeypatch) -> Path:
    """A fresh keyring directory for the checkpoint signing key."""
    directory = tmp_path / "keyring"
    monkeypatch.setattr(checkpoints, "keyring_dir", lambda: directory)
    checkpoints.forget_keys()
    yield directory
    checkpoints.forget_keys()


@pytest.fixture
def sink_dir(settings, tmp_path, keyring) -> Path:
    """Checkpoints go to a directory of this test's own (made, as an operator provisions a sink:
    verify fails on a missing one), signed by a key of its own."""
    settings.CONFIDE_AUDIT_CHECKPOINT_SINK = "directory"
    settings.CONFIDE_AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    (tmp_path / "checkpoints").mkdir(mode=0o700)
    return tmp_path / "checkpoints"


@contextmanager
def sqlite_triggers_dropped() -> Iterator[None]:
    """SQLite: drop the append-only triggers of the log and the guards of the chain heads for a
    tamper test. Call inside a transaction (the test's, or `transaction.atomic()`): DDL is
    transactional in SQLite, so rolling back restores them."""
    assert connection.vendor == "sqlite" and connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_auditentry', 'audit_chainhead')")
        names = [row[0] for row in cursor.fetchall()]
        assert len(names) == 6, f"the append-only triggers are missing: {names}"
        for name in names:
            cursor.execute(f'DROP TRIGGER "{name}"')
    yield


def parse_failure(output: str) -> dict[str, dict]:
    """{chain: {"seq": int, "kind": str, "line": str}} from `confide audit verify` output."""
    found = {}
    for line in output.splitlines():
        match = FAIL_LINE.search(line)
        if match:
            found[match["chain"]] = {"seq": int(match["seq"]), "kind": match["kind"], "line": line}
    return found


# --- subprocesses: real commits, as the application would make them --------------------------
def subprocess_env(data_dir: Path, **extra: str) -> dict:
    """The test settings in a child process, with its own data directory (keyring, sink, and on
    SQLite its own database file). On PostgreSQL it connects as the application role."""
    # CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES passes through: a run with it small walks every tamper
    # case through the parallel segments of verify, in the child processes too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_AUDIT_") or k == "CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES"}
    return env | {"DJANGO_SETTINGS_MODULE": "tests.settings", "CONFIDE_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)} | extra


def run_python(args: list[str], env: dict, *, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def append_in_subprocess(env: dict, chains: list[str], *, threads: int, per_thread: int, migrate: bool, sealers: int = 0) -> dict:
    args = ["-m", "tests.audit.append_worker", "--threads", str(threads), "--per-thread", str(per_thread), "--sealers", str(sealers)]
    args += [a for chain in chains for a in ("--chain", chain)] + (["--migrate"] if migrate else [])
    result = run_python(args, env)
    assert result.returncode == 0, f"append worker failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def verify_in_subprocess(env: dict, *args: str) -> subprocess.CompletedProcess:
    return run_python(["-m", "django", "audit", "verify", *args], env)


# --- PostgreSQL: the owning role, for what the application role may not do ---------------------
@contextmanager
def owner_connection():
    """A psycopg connection as the role that owns the tables (DATABASE_MIGRATE_URL): the one role
    that can ALTER TABLE … DISABLE TRIGGER, i.e. the attacker with the most access short of the
    superuser. Separate from the test's connection: what it does is committed (and undone by the
    test). A lock timeout turns a lock conflict with the test's transaction into an error, not a hang."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["owner"]
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db.get("PASSWORD") or None,
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute("SET lock_timeout = '10s'")
        yield conn


OWNER_GUARDS_OFF = (
    "ALTER TABLE audit_auditentry DISABLE TRIGGER audit_append_only",
    "ALTER TABLE audit_auditentry DISABLE TRIGGER audit_seal_once",  # audit 0007: only unsealed → sealed
    "ALTER TABLE audit_auditentry NO FORCE ROW LEVEL SECURITY",  # the owner may write rows no policy admits
    "ALTER TABLE audit_chainhead DISABLE TRIGGER audit_chainhead_forward",
    "ALTER TABLE audit_chainhead DISABLE TRIGGER audit_chainhead_kept",
)
OWNER_GUARDS_ON = (
    "ALTER TABLE audit_auditentry ENABLE TRIGGER audit_append_only",
    "ALTER TABLE audit_auditentry ENABLE TRIGGER audit_seal_once",
    "ALTER TABLE audit_auditentry FORCE ROW LEVEL SECURITY",
    "ALTER TABLE audit_chainhead ENABLE TRIGGER audit_chainhead_forward",
    "ALTER TABLE audit_chainhead ENABLE TRIGGER audit_chainhead_kept",
)


def owner_tamper(conn, *statements: tuple[str, tuple]) -> None:
    """Run statements as the owner with the log's append-only trigger, its forced row security and
    the chain heads' guards off, in one transaction (they are never off for anyone else: ALTER
    TABLE is transactional). What the owning role, and only it, could do."""
    with conn.transaction():
        for sql in OWNER_GUARDS_OFF:
            conn.execute(sql)
        for sql, params in statements:
            conn.execute(sql, params)
        # Tables referencing entries have deferred foreign-key checks queued by a DELETE; run them
        # now (ALTER TABLE refuses a table with pending trigger events).
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql in OWNER_GUARDS_ON:
            conn.execute(sql)


def owner_remove_chains(chains: list[str]) -> None:
    """Take committed test chains (and their seal tasks) out of the shared PostgreSQL test database again."""
    with owner_connection() as conn:
        owner_tamper(
            conn,
            ("DELETE FROM audit_auditentry WHERE chain = ANY(%s)", (chains,)),
            ("DELETE FROM audit_chainhead WHERE chain = ANY(%s)", (chains,)),
            ("DELETE FROM django_tasks_database_dbtaskresult WHERE task_path = 'confide.audit.tasks.seal_chain' "
             "AND args_kwargs -> 'args' ->> 0 = ANY(%s)", (chains,)),
        )


def new_chain() -> str:
    return str(uuid.uuid4())


def refused_sql(sql: str, params=()) -> str:
    """Run `sql` expecting the database to refuse it (an append-only or immutability trigger);
    the error's text. In a savepoint, so the test's transaction survives the refusal."""
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(refused.value)


def db_id(obj):
    """The primary key as the database stores it (a UUID is text on SQLite), for raw SQL."""
    return type(obj)._meta.pk.get_db_prep_value(obj.pk, connection)
