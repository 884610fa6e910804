"""The pipeline end to end, once per channel: compose → gate → queue → deliver → outbox."""

from __future__ import annotations

import time_machine

from confide.core.tenancy import tenant_context
from confide.messaging.models import Message, OutboxEntry, Status
from tests.messaging.conftest import deliver_now, local_time, send


def test_staff_text_is_queued_then_delivered_once_through_the_console_outbox_MSG1(mw):
    with time_machine.travel(local_time(11), tick=False):  # 11:00 in San Francisco
        message = send(mw)
        assert message.status == Status.QUEUED
        assert deliver_now(message) == "sent"
        assert deliver_now(message) == "taken"
    with tenant_context(practice_id=mw.practice_id):
        assert Message.objects.get(pk=message.pk).status == Status.SENT
        rows = list(OutboxEntry.objects.filter(idempotency_key=message.idempotency_key))
    assert len(rows) == 1


def test_portal_message_is_delivered_when_written(mw):
    message = send(mw, channel="portal", body="Your forms are ready.")
    assert message.status == Status.DELIVERED
