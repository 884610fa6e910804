"""`confide messaging sweep [--schedule]`: one sweep now; the minute's sweep queued once."""

from __future__ import annotations

import datetime
from io import StringIO

import time_machine
from django.core.management import call_command
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from confide.core.tenancy import tenant_context
from confide.messaging.models import Message, OutboxEntry, Status
from confide.messaging.tasks import sweep_messages
from tests.messaging.conftest import local_time, send


def _sweep(*args) -> str:
    out = StringIO()
    call_command("messaging", "sweep", *args, stdout=out)
    return out.getvalue()


def test_sweep_sends_a_deferred_text_once_its_hour_has_come_and_recovers_a_dead_send_MSG1(mw):
    with time_machine.travel(local_time(22), tick=False):  # 22:00 in San Francisco: quiet hours
        deferred = send(mw, body="After quiet hours")
        assert deferred.status == Status.DEFERRED
    with time_machine.travel(local_time(11), tick=False):
        stale = send(mw, body="A worker died sending this")
    with tenant_context(practice_id=mw.practice_id):
        Message.objects.filter(pk=stale.pk).update(status=Status.SENDING, lease_until=local_time(11), carried="body")
    with time_machine.travel(local_time(9, days_ahead=2), tick=False):
        assert _sweep() == "sweep: 2 messages handled\n"
        assert _sweep() == "sweep: 0 messages handled\n"
    with tenant_context(practice_id=mw.practice_id):
        assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
        assert OutboxEntry.objects.count() == 2


def test_sweep_schedule_queues_one_chain_of_minute_sweeps(db):
    assert "sweep queued every minute" in _sweep("--schedule")
    _sweep("--schedule")  # again (make run twice): still one waiting
    waiting = DBTaskResult.objects.filter(task_path=sweep_messages.module_path, status=TaskResultStatus.READY)
    assert waiting.count() == 1
    assert waiting.get().run_after > datetime.datetime.now(datetime.UTC)


def test_the_sweep_task_runs_and_queues_the_next(db, run_tasks):
    sweep_messages.enqueue()
    run_tasks()
    ready = DBTaskResult.objects.filter(task_path=sweep_messages.module_path, status=TaskResultStatus.READY)
    assert ready.count() == 1 and ready.get().run_after is not None
