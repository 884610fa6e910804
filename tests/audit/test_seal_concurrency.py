"""AUD1, AUD2: sealing exactly once, whatever runs at the same time and whatever dies halfway.

Real commits in child processes (tests/audit/append_worker.py, seal_worker.py): on SQLite a
database file of the test's own, on PostgreSQL the test database as the application role, the
rows removed again afterwards by the owning role. Afterwards `confide audit verify` in another
process must find every seq 1..N once, every link and checkpoint intact.

* eight writers append while three sealers seal the same chains (some wait for the chain
  head's lock, some skip a chain another holds): every entry is sealed once (the sealers' counts
  add up to the entries, no more), seqs gap-free;
* a sealer killed with SIGKILL after its UPDATEs, before its commit: nothing it did stays, the
  next seal seals everything;
* a sealer whose database connection drops after its UPDATEs: the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.audit.conftest import (
    ON_POSTGRES,
    REPO,
    append_in_subprocess,
    new_chain,
    owner_remove_chains,
    run_python,
    subprocess_env,
)

THREADS, PER_THREAD, EVERY = 8, 25, 20
pytestmark = pytest.mark.postgres if ON_POSTGRES else []


@pytest.fixture
def chains(request):
    names = [new_chain(), new_chain()]
    if ON_POSTGRES:
        request.getfixturevalue("django_db_setup")
    yield names
    if ON_POSTGRES:
        owner_remove_chains(names)


def _verified(env, chains, per_chain):
    for chain in chains:
        run = run_python(["-m", "django", "audit", "--skip-checks", "verify", "--chain", chain], env)  # the vault's keyring check is not this test's
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip() == f"OK {per_chain} entries, {per_chain // EVERY} checkpoints"


def _seal_worker(env, chains, *args) -> dict:
    run = run_python(["-m", "tests.audit.seal_worker", *[a for c in chains for a in ("--chain", c)], *args], env)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_aud1_eight_writers_and_three_sealers_seal_every_entry_exactly_once(tmp_path, chains):
    env = subprocess_env(tmp_path, CONFIDE_AUDIT_CHECKPOINT_EVERY=str(EVERY))
    result = append_in_subprocess(env, chains, threads=THREADS, per_thread=PER_THREAD, sealers=3, migrate=not ON_POSTGRES)
    total = THREADS * PER_THREAD * len(chains)
    assert result == {"appended": total, "sealed": total, "errors": []}
    _verified(env, chains, THREADS * PER_THREAD)


def _unsealed(tmp_path, chains) -> dict:
    env = subprocess_env(tmp_path, CONFIDE_AUDIT_CHECKPOINT_EVERY=str(EVERY))
    args = ["-m", "tests.audit.append_worker", "--threads", "4", "--per-thread", "25", "--no-final-seal"]
    args += [a for chain in chains for a in ("--chain", chain)] + ([] if ON_POSTGRES else ["--migrate"])
    run = run_python(args, env)
    assert run.returncode == 0 and json.loads(run.stdout.splitlines()[-1]) == {"appended": 200, "sealed": 0, "errors": []}, run.stdout + run.stderr
    return env


def test_aud2_a_sealer_killed_mid_batch_leaves_nothing_sealed_and_the_next_seal_completes(tmp_path, chains):
    env = _unsealed(tmp_path, chains)
    args = [sys.executable, "-m", "tests.audit.seal_worker", "--chain", chains[0], "--batch", "30", "--crash", "hang"]
    killed = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = killed.stdout.readline()
        assert line.startswith("WROTE 30"), line + killed.stderr.read()
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
        killed.stdout.close()
        killed.stderr.close()
    assert _seal_worker(env, chains) == {"sealed": 200, "errors": [], "crashed_after": []}  # all 100 of each: none was kept
    _verified(env, chains, 100)


def test_aud2_a_database_connection_lost_mid_seal_leaves_nothing_sealed_and_the_next_seal_completes(tmp_path, chains):
    env = _unsealed(tmp_path, chains)
    result = _seal_worker(env, chains, "--batch", "30", "--crash", "drop")
    assert len(result["errors"]) == 1 and result["crashed_after"] == [30], result
    assert result["sealed"] == 200  # the failed batch's 30 were not kept: sealed again, once
    _verified(env, chains, 100)
