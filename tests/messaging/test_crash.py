"""Exactly once under a real crash (issue 15, Done-when): a `confide db_worker` process that is
SIGKILLed between the provider call and the status write; after the lease runs out, the
restarted worker's sweep asks the provider (the console outbox) and records the send without
sending again. A worker killed mid-batch loses nothing."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest
from django.db import connection

from tests.messaging.crash_adapter import MARKER_ENV

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = "tests.messaging.crash_adapter.KillAfterSendAdapter"
LEASE_SECONDS = 2

# Numbers whose own time zone (libphonenumber) gives the quiet-hours window; the test picks one
# where it is daytime now, so the real clock of the worker process never meets quiet hours.
DAYTIME_NUMBERS = {
    "+44 20 7946 0958": "Europe/London", "+1 212 555 0142": "America/New_York", "+1 415 555 0142": "America/Los_Angeles",
    "+81 3 1234 5678": "Asia/Tokyo", "+61 2 9374 4000": "Australia/Sydney",
}  # fmt: skip


def daytime_number() -> str:
    now = datetime.datetime.now(datetime.UTC)
    for number, zone in DAYTIME_NUMBERS.items():
        local = now.astimezone(zoneinfo.ZoneInfo(zone))
        if 9 <= local.hour < 19:
            return number
    raise AssertionError("no daytime number for this hour")  # the zones above cover the day


SEED = """
import json
from tests.conftest import _build_practice
from tests.messaging.conftest import messaging_world, send
pw = _build_practice("crash", False)
mw = messaging_world(pw, phone=PHONE, address=None)
messages = [send(mw, body=f"Reminder number {n}") for n in range(COUNT)]
assert all(m.status == "queued" for m in messages), [m.status for m in messages]
print("SEEDED " + json.dumps([[str(m.pk), str(m.idempotency_key)] for m in messages]))
"""

READ = """
import json
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.messaging.models import Message, OutboxEntry
practice = Practice.objects.get(slug="crash")
with tenant_context(practice_id=practice.id):
    out = {str(m.pk): [m.status, OutboxEntry.objects.filter(idempotency_key=m.idempotency_key).count()] for m in Message.objects.all()}
print("STATE " + json.dumps(out))
"""


def _env(data_dir: Path, marker: Path) -> dict:
    drop = {"DATABASE_URL", "DATABASE_MIGRATE_URL", "CONFIDE_TEST_DATABASE", "CONFIDE_KEY_MANAGER", "CONFIDE_VAULT_MASTER_KEY"}
    env = {key: value for key, value in os.environ.items() if key not in drop}
    return env | {
        "DJANGO_SETTINGS_MODULE": "confide.settings", "CONFIDE_DEV_MODE": "1", "CONFIDE_DATA_DIR": str(data_dir),
        "CONFIDE_SMS_ADAPTER": ADAPTER, "CONFIDE_MESSAGING_LEASE_SECONDS": str(LEASE_SECONDS), MARKER_ENV: str(marker),
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip


def _confide(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "confide.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _ok(env: dict, *args: str) -> str:
    result = _confide(env, *args)
    assert result.returncode == 0, f"confide {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result.stdout


def _seed(env: dict, count: int) -> list[list[str]]:
    _ok(env, "migrate", "--noinput", "-v", "0")
    out = _ok(env, "shell", "-v", "0", "-c", f"PHONE = {daytime_number()!r}\nCOUNT = {count}\n" + SEED)
    return json.loads(out.split("SEEDED ", 1)[1])


def _state(env: dict) -> dict:
    return json.loads(_ok(env, "shell", "-v", "0", "-c", READ).split("STATE ", 1)[1])


def _worker(env: dict) -> subprocess.CompletedProcess:
    return _confide(env, "db_worker", "--batch", "--no-startup-delay")


def _restart_after_lease(env: dict) -> None:
    """The lease runs out; the worker comes back and runs the minute's sweep (queued by `make
    run`'s `confide messaging sweep --schedule`; here queued due now)."""
    time.sleep(LEASE_SECONDS + 1)
    _ok(env, "shell", "-v", "0", "-c", "from confide.messaging.tasks import sweep_messages; sweep_messages.enqueue()")
    result = _worker(env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture
def crash_env(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite pass runs this (a file-backed database the worker process shares)")
    return _env(tmp_path / "data", tmp_path / "killed")


def test_a_worker_killed_between_provider_call_and_status_write_sends_exactly_once_MSG1(crash_env, tmp_path):
    [[message_id, key]] = _seed(crash_env, 1)
    killed = _worker(crash_env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (tmp_path / "killed").read_text() == message_id
    assert _state(crash_env) == {message_id: ["sending", 1]}  # sent, not recorded: the crash window

    _restart_after_lease(crash_env)
    assert _state(crash_env) == {message_id: ["sent", 1]}  # recovered by lookup, the outbox row is the only one


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_each_once_MSG1(crash_env, tmp_path):
    seeded = _seed(crash_env, 4)
    killed = _worker(crash_env)
    assert killed.returncode == -signal.SIGKILL
    state = _state(crash_env)
    assert sorted(status for status, _ in state.values()) == ["queued", "queued", "queued", "sending"]

    _restart_after_lease(crash_env)
    assert _state(crash_env) == {message_id: ["sent", 1] for message_id, _ in seeded}
