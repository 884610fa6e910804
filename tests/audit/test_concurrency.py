"""AUD5: writers appending to one chain at the same time end with a gap-free chain that verifies.

Eight threads in a child process (tests/audit/append_worker.py), all released together, each
committing its own entries: on SQLite a database file of the test's own (the in-memory test
database cannot be shared by threads that each commit), on PostgreSQL the test database as the
application role, the rows removed again afterwards by the owning role. Checkpoints are due
every 20 entries, so they are written from whichever thread's commit made them due. Then
`confide audit verify` in another process: every seq once, every link and checkpoint intact.
"""

from __future__ import annotations

import pytest

from tests.audit.conftest import ON_POSTGRES, append_in_subprocess, new_chain, owner_remove_chains, subprocess_env, verify_in_subprocess

THREADS, PER_THREAD, EVERY = 8, 25, 20


def _run(tmp_path, chains, *, migrate: bool) -> None:
    env = subprocess_env(tmp_path, CONFIDE_AUDIT_CHECKPOINT_EVERY=str(EVERY))
    result = append_in_subprocess(env, chains, threads=THREADS, per_thread=PER_THREAD, migrate=migrate)
    assert result == {"appended": THREADS * PER_THREAD * len(chains), "sealed": THREADS * PER_THREAD * len(chains), "errors": []}
    per_chain = THREADS * PER_THREAD
    for chain in chains:
        files = sorted(p.name for p in (tmp_path / "audit-checkpoints" / chain).iterdir())
        assert files == [f"{seq:012d}.json" for seq in range(EVERY, per_chain + 1, EVERY)]
        run = verify_in_subprocess(env, "--chain", chain)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip() == f"OK {per_chain} entries, {per_chain // EVERY} checkpoints"


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite pass (the PostgreSQL pass runs the test below)")
def test_sqlite_concurrent_writers_make_a_gap_free_chain(tmp_path):
    _run(tmp_path, [new_chain(), new_chain()], migrate=True)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
def test_postgres_concurrent_writers_make_a_gap_free_chain(tmp_path, django_db_setup):
    chains = [new_chain(), new_chain()]
    try:
        _run(tmp_path, chains, migrate=False)
    finally:
        owner_remove_chains(chains)
