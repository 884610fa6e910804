"""AUD2: a quiet chain's tail is sealed by the task worker within CONFIDE_AUDIT_CHECKPOINT_MINUTES.

The sealer's pass that opens a tail (seals the first entries after a checkpoint, or a chain's
genesis entry) enqueues one `seal_chain` task with run_after = its time + the interval, in its
transaction and under the chain-head lock: one pending seal per open tail however many processes append, a rolled-back
entry leaves none, and the task is a database row, so it survives a restart of the worker. The
task checkpoints the head as it is when it runs; a failure is retried an interval later.
(The same with real threads and processes: tests/concurrency/test_audit_seal.py.)
"""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from confide.audit import checkpoints
from confide.audit.chain import record
from confide.audit.checkpoints import Checkpoint
from confide.audit.events import AuditEvent
from confide.audit.models import ChainHead
from tests.audit.sealing import sealed

SEAL_TASK = "confide.audit.tasks.seal_chain"


def _pending(chain: str) -> list[DBTaskResult]:
    return [t for t in DBTaskResult.objects.filter(task_path=SEAL_TASK, status="READY") if t.args_kwargs["args"] == [chain]]


def _files(sink_dir, chain) -> list[str]:
    directory = sink_dir / chain
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def quiet(settings, sink_dir):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 1000
    settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES = 10
    return sink_dir


def _later(minutes: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=False)


def test_aud2_a_quiet_chains_tail_is_sealed_by_the_worker_within_the_interval(db, quiet, run_tasks, django_capture_on_commit_callbacks):
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        entries = sealed(*[record(AuditEvent.CHART_OPENED, practice_id=chain) for _ in range(3)])
    [seal] = _pending(chain)
    assert entries[0].at + datetime.timedelta(minutes=10) <= seal.run_after <= timezone.now() + datetime.timedelta(minutes=10)
    run_tasks()
    assert _files(quiet, chain) == []  # not due yet
    with _later(10):
        run_tasks()
    assert _files(quiet, chain) == ["000000000003.json"]
    checkpoint = Checkpoint.from_json((quiet / chain / "000000000003.json").read_bytes())
    assert checkpoint.hash == entries[-1].hash and checkpoints.signature_problem(checkpoint, checkpoints.load_public_key()) == ""
    assert checkpoint.hashes == tuple(e.hash for e in entries)  # every entry it seals, for verify to name a rewrite exactly
    head = ChainHead.objects.get(chain=chain)
    assert (head.seq, head.checkpoint_seq) == (3, 3) and _pending(chain) == []


def test_one_pending_seal_per_open_tail(db, quiet, run_tasks, django_capture_on_commit_callbacks):
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))
    assert len(_pending(chain)) == 1
    with _later(10):
        run_tasks()
        assert _pending(chain) == []
        with django_capture_on_commit_callbacks(execute=True):
            sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))  # opens the next tail
            sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))
        assert len(_pending(chain)) == 1


def test_a_rolled_back_entry_leaves_no_seal_task(db, quiet):
    chain = str(uuid.uuid4())
    with pytest.raises(RuntimeError), transaction.atomic():
        sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))
        raise RuntimeError("the action failed")
    assert _pending(chain) == []


def test_a_seal_of_a_tail_sealed_meanwhile_writes_nothing_new(db, quiet, run_tasks, django_capture_on_commit_callbacks):
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))
    checkpoints.checkpoint_heads([chain])  # `confide audit checkpoint` got there first
    with _later(10):
        run_tasks()
    assert _files(quiet, chain) == ["000000000001.json"]
    assert DBTaskResult.objects.filter(task_path=SEAL_TASK, status="SUCCESSFUL").count() == 1


def test_a_failed_seal_is_retried_an_interval_later(db, quiet, run_tasks, monkeypatch, django_capture_on_commit_callbacks):
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))
    broken = quiet.parent / "not-a-directory"
    broken.write_text("")
    with _later(10):
        monkeypatch.setattr(checkpoints, "sink", lambda: checkpoints.DirectorySink(broken / "below"))
        run_tasks()
        [retry] = _pending(chain)
        assert retry.run_after >= timezone.now() + datetime.timedelta(minutes=10)
        monkeypatch.undo()
    assert DBTaskResult.objects.filter(task_path=SEAL_TASK, status="FAILED").count() == 1
    with _later(21):
        run_tasks()
    assert _files(quiet, chain) == ["000000000001.json"]


def test_with_the_immediate_task_backend_appending_still_works_and_seals_nothing(db, quiet, settings):
    """One-off scripts run with CONFIDE_TASKS_BACKEND=immediate, which cannot defer a task."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    chain = str(uuid.uuid4())
    sealed(record(AuditEvent.CHART_OPENED, practice_id=chain))
    assert _pending(chain) == [] and _files(quiet, chain) == []
