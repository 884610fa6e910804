"""Two workers given the same queued message at once (a task enqueued twice, the sweep racing the
task): exactly one provider call, one OutboxEntry for the message's idempotency key (MSG1).

The threads run in a child process of their own with committed data and a connection each
(tests/concurrency/harness.py explains why: the test's own transaction would hide the race)."""

from __future__ import annotations

import pytest

from tests.concurrency.harness import concurrently, new_world, run_scenario

WORKERS = 4


@pytest.fixture
def concurrency_db(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield


def _queued_message(tag: str):
    from tests.messaging.conftest import messaging_world, send

    mw = messaging_world(new_world(tag))
    message = send(mw, body="Your forms are ready.")
    return mw, message


def _report(message, outcomes) -> dict:
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Delivery, Message, OutboxEntry

    with tenant_context(practice_id=message.practice_id):
        return {
            "values": sorted(str(o.value) for o in outcomes),
            "errors": [o.error for o in outcomes if not o.ok],
            "outbox": OutboxEntry.objects.filter(idempotency_key=message.idempotency_key).count(),
            "deliveries": Delivery.objects.filter(message_id=message.pk).count(),
            "status": Message.objects.get(pk=message.pk).status,
        }


def scenario_same_message_delivered_at_once(params):
    import time_machine

    from confide.messaging.tasks import deliver
    from tests.messaging.conftest import local_time

    with time_machine.travel(local_time(11), tick=True):
        _, message = _queued_message("gate-race")
        assert message.status == "queued", message.status
        outcomes = concurrently(params["n"], lambda i: deliver(message.pk, message.practice_id))
        return _report(message, outcomes)


def scenario_stale_send_recovered_at_once(params):
    """A worker died mid-send (status sending, lease run out, nothing at the provider): several
    sweeps find it together; one re-claims and sends, the others do nothing."""
    import datetime

    import time_machine

    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Message
    from confide.messaging.tasks import deliver
    from tests.messaging.conftest import local_time

    start = local_time(11)
    with time_machine.travel(start, tick=False):
        _, message = _queued_message("gate-stale")
        with tenant_context(practice_id=message.practice_id):
            Message.objects.filter(pk=message.pk).update(status="sending", lease_until=start - datetime.timedelta(seconds=1))
        outcomes = concurrently(params["n"], lambda i: deliver(message.pk, message.practice_id))
        return _report(message, outcomes)


def test_two_workers_delivering_one_message_send_it_once_MSG1(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_same_message_delivered_at_once, n=WORKERS)
    assert result["errors"] == []
    assert result["values"] == sorted(["sent"] + ["taken"] * (WORKERS - 1)), result["values"]
    assert (result["outbox"], result["deliveries"], result["status"]) == (1, 1, "sent")


def test_a_stale_send_found_by_several_sweeps_is_sent_once_MSG1(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_stale_send_recovered_at_once, n=WORKERS)
    assert result["errors"] == []
    assert result["values"] == sorted(["sent"] + ["taken"] * (WORKERS - 1)), result["values"]
    assert (result["outbox"], result["deliveries"], result["status"]) == (1, 1, "sent")
