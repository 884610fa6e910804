"""The concurrency suite's harness: a scenario runs in a child process of its own, where
threads make real, committed requests against one chart, one code, one token; the test in the
parent process asserts the final state the child reports.

Why a child process: pytest-django wraps each test in a transaction that is rolled back, and
threads there would share nothing the application shares in production (each request commits
on its own connection). In the child every thread has its own connection and commits, as a
gunicorn worker would:

* SQLite — a database file of the test's own, copied from one migrated once per session (the
  `transaction_mode = IMMEDIATE` writer lock is what serialises writers, as in production);
* PostgreSQL — the test database as the unprivileged application role (row-level security
  applies); what the scenario committed is removed afterwards by `remove_practices`, as the
  superuser with triggers off (the audit log, the consent ledger and policy versions are
  append-only for every other role).

Writing a scenario (`tests/concurrency/test_*.py`):

    def scenario_add_medications(params):            # runs in the child
        world = new_world("meds")                      # committed practice + staff per role
        ...
        outcomes = concurrently(params["n"], work)     # all threads start together
        return {"acknowledged": [...], "stored": [...]}  # JSON-able; the parent asserts on it

    def test_...(tmp_path, concurrency_db):
        result = run_scenario(tmp_path, scenario_add_medications, n=20)
        assert ...

A scenario function must be importable by its module path (a top-level function of a test
module). `concurrently` returns one `Outcome` per thread: its return value or the repr of the
exception it raised — so a scenario can report refusals as well as successes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("CONFIDE_TEST_DATABASE") == "postgres"
CLEANUP_FILE = "practices-to-remove.json"
SQLITE_NAME = "confide.sqlite3"


# --- the parent: run a scenario, clean up after it ----------------------------------------------
def child_env(data_dir: Path, **extra: str) -> dict:
    """The test settings in a child process with its own data directory (keyring, checkpoint
    sink and, on SQLite, its database file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_AUDIT_")}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env | {"DJANGO_SETTINGS_MODULE": "tests.settings", "CONFIDE_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)} | extra


def run_scenario(data_dir: Path, scenario: Callable, *, timeout: int = 300, env: dict | None = None, **params) -> dict:
    """Run `scenario(params)` in a child process; its JSON result. The child's database is a
    copy of the session's migrated template (SQLite) or the shared test database (PostgreSQL);
    on PostgreSQL every practice the child made is removed again afterwards."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if ON_POSTGRES:
        _share_keyring(data_dir)
    else:
        _copy_template(data_dir)
    target = f"{scenario.__module__}:{scenario.__qualname__}"
    if ON_POSTGRES:
        forget_platform_rows()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.concurrency.child", target],
            input=json.dumps(params), env=child_env(data_dir, **(env or {})), cwd=REPO,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"scenario {target} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        if ON_POSTGRES:
            cleanup = data_dir / CLEANUP_FILE
            if cleanup.exists():
                remove_practices(json.loads(cleanup.read_text()))
            forget_platform_rows()


def _share_keyring(data_dir: Path) -> None:
    """PostgreSQL: scenarios commit into the one test database the whole session uses, so they
    use the session's keyring too (this process's, under its CONFIDE_DATA_DIR): the platform key
    row a scenario commits is wrapped by a KEK in that keyring, and a later scenario — or a later
    test in this process — with a keyring of its own could not open it."""
    from django.conf import settings

    shared = Path(settings.DATA_DIR) / "keyring"
    shared.mkdir(mode=0o700, parents=True, exist_ok=True)
    link = data_dir / "keyring"
    if not link.exists():
        link.symlink_to(shared, target_is_directory=True)


_TEMPLATE: Path | None = None


def migrated_template() -> Path:
    """A SQLite database migrated once per test session (in a child, as the app would)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="confide-concurrency-template-"))
        result = subprocess.run(
            [sys.executable, "-m", "tests.concurrency.child", "--migrate"],
            env=child_env(directory), cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"migrating the template failed:\n{result.stdout}\n{result.stderr}"
        _TEMPLATE = directory / SQLITE_NAME
    return _TEMPLATE


def _copy_template(data_dir: Path) -> None:
    target = data_dir / SQLITE_NAME
    if not target.exists():
        shutil.copyfile(migrated_template(), target)
        os.chmod(target, 0o600)


def remove_practices(practices: list[dict]) -> None:
    """PostgreSQL: delete everything these practices (and their staff) committed, as the
    superuser in one transaction with session_replication_role = replica (append-only triggers
    and foreign-key triggers off, for this transaction only)."""
    from django.conf import settings

    if not practices:
        return
    db = settings.DATABASES["default"]
    statements = ["BEGIN;", "SET LOCAL session_replication_role = replica;"]
    tables = _tables_with_columns(db)
    for practice in practices:
        pid = str(uuid.UUID(practice["id"]))  # UUIDs and ints only: safe inside the SQL text
        users = ",".join(str(int(u)) for u in practice.get("users", [])) or "NULL"
        for table, columns in tables.items():
            if "practice_id" in columns:
                statements.append(f"DELETE FROM \"{table}\" WHERE practice_id::text = '{pid}';")
            if "user_id" in columns:
                statements.append(f'DELETE FROM "{table}" WHERE user_id IN ({users});')
            if table in ("audit_auditentry", "audit_chainhead") and "chain" in columns:
                statements.append(f"DELETE FROM \"{table}\" WHERE chain = '{pid}';")
        statements.append(f"DELETE FROM accounts_user WHERE id IN ({users});")
        statements.append(f"DELETE FROM core_practice WHERE id::text = '{pid}';")
        # The practice's pending audit seal task (confide/audit/tasks.py): it names its chain.
        statements.append(f"DELETE FROM django_tasks_database_dbtaskresult WHERE args_kwargs -> 'args' ->> 0 = '{pid}';")
    statements.append("COMMIT;")
    _psql_superuser(db, "\n".join(statements))


def forget_platform_rows() -> None:
    """PostgreSQL: remove what a child committed outside any practice — the parent's tests
    never commit, so such rows are always a child's:

    * the installation-wide data key, wrapped under the child's own keyring (its data
      directory): any later process (the next scenario's child, the parent's own tests) would
      find it and fail to unwrap it (KeyringMissing);
    * the platform audit chain (sign-ins and other entries of no practice), its head and its
      pending seal: the parent's tests assert on the entries they wrote.

    Run before a scenario too: a scenario killed mid-run (a timeout) may have left them."""
    from django.conf import settings

    _psql_superuser(
        settings.DATABASES["default"],
        "BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM vault_platformkey; "
        "DELETE FROM audit_auditentry WHERE chain = 'platform'; DELETE FROM audit_chainhead WHERE chain = 'platform'; "
        # the platform chain's pending seal (confide/audit/tasks.py names its chain)
        "DELETE FROM django_tasks_database_dbtaskresult WHERE args_kwargs -> 'args' ->> 0 = 'platform'; COMMIT;",
    )


def _tables_with_columns(db: dict) -> dict[str, set[str]]:
    out = _psql_superuser(
        db,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND column_name IN ('practice_id', 'user_id', 'chain');",
        tuples=True,
    )
    tables: dict[str, set[str]] = {}
    for line in out.splitlines():
        if "|" in line:
            table, column = line.split("|", 1)
            tables.setdefault(table, set()).add(column)
    return tables


def _psql_superuser(db: dict, sql: str, *, tuples: bool = False) -> str:
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-h", db["HOST"] or "127.0.0.1",
            "-p", str(db["PORT"] or 5432), "-U", "postgres", "-d", db["NAME"]]  # fmt: skip
    if tuples:
        args += ["-A", "-t"]
    result = subprocess.run([*args, "-f", "-"], input=sql, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"cleanup as the superuser failed: {result.stderr}"
    return result.stdout


# --- the child: worlds and threads ---------------------------------------------------------------
_MADE: list[dict] = []


@dataclass
class Outcome:
    """What one thread ended with: `value` (what it returned) or `error` (the exception's class
    name and message)."""

    index: int
    value: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict:
        return {"index": self.index, "value": self.value, "error": self.error}


def concurrently(n: int, work: Callable[[int], object], *, timeout: float = 120) -> list[Outcome]:
    """Run `work(i)` for i in 0..n-1 in n threads released together by a barrier; each thread
    closes its database connection when done. One `Outcome` per thread, in index order."""
    from django.db import connections

    barrier = threading.Barrier(n)
    outcomes = [Outcome(index=i) for i in range(n)]

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            outcomes[index].value = work(index)
        except Exception as exc:  # noqa: BLE001 — reported to the scenario, which decides
            outcomes[index].error = f"{type(exc).__name__}: {exc}"[:500]
            if os.environ.get("CONFIDE_CONCURRENCY_TRACEBACKS"):
                traceback.print_exc(file=sys.stderr)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    stuck = [i for i, thread in enumerate(threads) if thread.is_alive()]
    if stuck:
        raise RuntimeError(f"threads {stuck} did not finish within {timeout}s (a deadlock?)")
    return outcomes


def new_world(tag: str):
    """A committed practice with one member of staff per role (each with an authenticator),
    as `tests.conftest.PracticeWorld`; on PostgreSQL it is removed again after the scenario.
    The slug is unique per call, so scenarios never meet each other's rows."""
    from tests.conftest import _build_practice

    slug = f"{tag[:20]}-{uuid.uuid4().hex[:10]}"
    world = _build_practice(slug, canary=False)
    _MADE.append({"id": str(world.practice.id), "users": [u.pk for u in world.users.values()]})
    _write_cleanup()
    return world


def forget_user_on_cleanup(user) -> None:
    """Also remove this user (made by a scenario outside `new_world`) on PostgreSQL."""
    if _MADE:
        _MADE[-1]["users"].append(user.pk)
        _write_cleanup()


def _write_cleanup() -> None:
    path = Path(os.environ["CONFIDE_DATA_DIR"]) / CLEANUP_FILE
    path.write_text(json.dumps(_MADE))


def signed_in_client(user, practice):
    """A test client with a fully signed-in session (password, verified authenticator, practice
    chosen) — its own cookie jar, so one per thread."""
    from django.test import Client

    from tests.conftest import sign_in

    return sign_in(Client(), user, practice)
