"""Delivery status callbacks (MSG1, TRK1): signed like the inbound hook; the delivery moves
forward only (callbacks arrive out of order), with a timestamp per status and the provider's
error code on the delivery row; failures show on the message for the inbox."""

from __future__ import annotations

import pytest
import time_machine

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.messaging.models import Delivery, Message, Status
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.inbound_helpers import PATIENT_NUMBER, PRACTICE_NUMBER, give_number, post_hook, twilio  # noqa: F401

STATUS_PATH = "/hooks/sms/twilio/status"


def _sent(mw):
    give_number(mw.practice_id)
    with time_machine.travel(local_time(11), tick=False):
        message = send(mw)
        assert deliver_now(message) == "sent"
    with tenant_context(practice_id=mw.practice_id):
        return message, Delivery.objects.get(message=message)


def _callback(ref: str, status: str, **extra):
    params = {"AccountSid": "AC" + "0" * 32, "From": PRACTICE_NUMBER, "To": PATIENT_NUMBER, "MessageSid": ref,
              "MessageStatus": status, "SmsSid": ref, "SmsStatus": status, "ApiVersion": "2010-04-01", **extra}  # fmt: skip
    return post_hook(params, path=STATUS_PATH)


def _state(mw, message):
    with tenant_context(practice_id=mw.practice_id):
        return Message.objects.get(pk=message.pk), Delivery.objects.get(message=message)


def test_delivered_sets_the_status_and_its_time_MSG1(mw, twilio):
    message, delivery = _sent(mw)
    assert _callback(delivery.provider_ref, "delivered").status_code == 200
    message, delivery = _state(mw, message)
    assert delivery.status == Status.DELIVERED and delivery.delivered_at is not None and delivery.sent_at is not None
    assert message.status == Status.DELIVERED
    assert [h[0] for h in delivery.history][-1] == "delivered"


@pytest.mark.parametrize("order", [["sent", "delivered"], ["delivered", "sent"], ["delivered", "sending", "queued", "sent"], ["delivered", "undelivered"]])
def test_out_of_order_callbacks_never_regress_MSG1(mw, twilio, order):
    message, delivery = _sent(mw)
    for status in order:
        assert _callback(delivery.provider_ref, status).status_code == 200
    message, delivery = _state(mw, message)
    assert delivery.status == Status.DELIVERED and message.status == Status.DELIVERED


def test_a_failure_keeps_the_error_code_on_the_delivery_and_shows_on_the_message_TRK1(mw, twilio):
    message, delivery = _sent(mw)
    assert _callback(delivery.provider_ref, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable").status_code == 200
    message, delivery = _state(mw, message)
    assert delivery.status == Status.UNDELIVERED and delivery.error_code == "30003" and delivery.failed_at is not None
    assert message.status == Status.UNDELIVERED and message.refusal_code == "provider-30003" and message.refusal_reason
    entry = AuditEntry.objects.filter(event=AuditEvent.MESSAGE_FAILED).latest("at")
    assert entry.detail["code"] == "30003" and str(message.pk) in entry.resource_ids
    # TRK1: the technical data is on the delivery row, which has no body and no number.
    assert {f.name for f in Delivery._meta.concrete_fields}.isdisjoint({"body", "to", "phone"})


def test_an_unknown_sid_is_200_with_no_effect(mw, twilio):
    message, delivery = _sent(mw)
    assert _callback("SM" + "f" * 32, "failed").status_code == 200
    assert _state(mw, message)[1].status == Status.SENT


def test_a_forged_status_callback_is_403_and_changes_nothing_MSG7(mw, twilio):
    message, delivery = _sent(mw)
    params = {"From": PRACTICE_NUMBER, "MessageSid": delivery.provider_ref, "MessageStatus": "failed"}
    assert post_hook(params, path=STATUS_PATH, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert _state(mw, message)[1].status == Status.SENT
    assert AuditEntry.objects.filter(event=AuditEvent.WEBHOOK_REJECTED).count() == 1


def test_a_status_callback_without_a_status_is_400(mw, twilio):
    message, delivery = _sent(mw)
    params = {"From": PRACTICE_NUMBER, "MessageSid": delivery.provider_ref}
    assert post_hook(params, path=STATUS_PATH).status_code == 400
