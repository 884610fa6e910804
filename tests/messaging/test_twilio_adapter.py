"""The Twilio adapter against a Twilio-shaped server on loopback: the SDK's real request, field by
field; each refusal and failure mapped as the delivery task needs it; the crash-recovery lookup."""

from __future__ import annotations

import datetime
import logging

import pytest
import time_machine

from confide.core.tenancy import tenant_context
from confide.messaging import tasks
from confide.messaging.adapters.twilio import TwilioSMSAdapter
from confide.messaging.models import Delivery, Message, OptOutSource, PhoneOptOut, Status
from tests.messaging.conftest import deliver_now, local_time, messaging_world, send
from tests.messaging.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, fake_twilio

BODY = "See you at 3 tomorrow. canary-body-qwerty"
PHONE = "+14155550142"


@pytest.fixture
def twilio(settings):
    with fake_twilio() as fake:
        settings.CONFIDE_SMS_ADAPTER = "twilio"
        settings.CONFIDE_TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.CONFIDE_TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.CONFIDE_TWILIO_FROM = "+15005550006"
        settings.CONFIDE_TWILIO_MESSAGING_SERVICE_SID = ""
        settings.CONFIDE_TWILIO_API_BASE = fake.base_url
        settings.CONFIDE_TWILIO_TIMEOUT_SECONDS = 0.5
        settings.CONFIDE_BASE_URL = "https://clinic.example.test"
        fake.timeout_sleep = 1.5
        yield fake


@pytest.fixture
def world_mw(world):
    # The body travels only when the patient asked for details by text: phi_by_sms too.
    from tests.consent.helpers import by_phone

    mw = messaging_world(world.a)
    by_phone(mw.pw, mw.patient.id, "phi_by_sms")
    return mw


def _state(message):
    with tenant_context(practice_id=message.practice_id):
        return Message.objects.get(pk=message.pk), Delivery.objects.filter(message_id=message.pk).first()


def test_send_posts_twilios_fields_with_basic_auth_and_records_the_sid_MSG1(world_mw, twilio):
    with time_machine.travel(local_time(11), tick=False):
        message = send(world_mw, body=BODY)
        assert deliver_now(message) == "sent"
    [create] = twilio.creates()
    assert create.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert create.content_type.startswith("application/x-www-form-urlencoded")
    assert create.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert create.form["To"] == PHONE
    assert create.form["From"] == "+15005550006"
    assert "MessagingServiceSid" not in create.form
    assert create.form["Body"] == BODY
    assert create.form["StatusCallback"] == "https://clinic.example.test/hooks/sms/twilio/status"
    saved, delivery = _state(message)
    assert saved.status == Status.SENT
    assert delivery.provider == "twilio"
    assert delivery.provider_ref == twilio.messages[0]["sid"] and delivery.provider_ref.startswith("SM")


def test_messaging_service_sid_replaces_from(world_mw, twilio, settings):
    settings.CONFIDE_TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    with time_machine.travel(local_time(11), tick=False):
        assert deliver_now(send(world_mw, body=BODY)) == "sent"
    [create] = twilio.creates()
    assert create.form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in create.form


def test_without_consent_to_details_the_notice_goes_not_the_body_MSG4(world, twilio):
    mw = messaging_world(world.a)
    with time_machine.travel(local_time(11), tick=False):
        assert deliver_now(send(mw, body=BODY)) == "sent"
    [create] = twilio.creates()
    assert "canary-body" not in create.form["Body"] and "Sign in to the patient portal" in create.form["Body"]


def test_invalid_number_400_fails_with_twilios_code_visible(world_mw, twilio):
    twilio.fail_next("invalid")
    with time_machine.travel(local_time(11), tick=False):
        message = send(world_mw, body=BODY)
        assert deliver_now(message) == "failed"
    saved, delivery = _state(message)
    assert saved.status == Status.FAILED
    assert saved.refusal_code == "provider-21211"
    assert "not a valid mobile number" in saved.refusal_reason
    assert delivery.status == Status.FAILED and delivery.error_code == "21211"


def test_unsubscribed_21610_fails_and_records_the_opt_out_so_the_next_text_is_refused_MSG3(world_mw, twilio):
    twilio.fail_next("unsubscribed")
    with time_machine.travel(local_time(11), tick=False):
        message = send(world_mw, body=BODY)
        assert deliver_now(message) == "failed"
        with tenant_context(practice_id=world_mw.practice_id):
            [optout] = PhoneOptOut.objects.all()
        assert optout.opted_out and optout.source == OptOutSource.PROVIDER
        again = send(world_mw, body="Another one")
        assert again.status == Status.REFUSED and again.refusal_code == "opted-out"
    assert len(twilio.creates()) == 1


@pytest.mark.parametrize("failure", ["busy", "error", "timeout"])
def test_429_5xx_and_timeout_queue_again_with_backoff_then_send(world_mw, twilio, failure):
    twilio.fail_next(failure)
    now = local_time(11)
    with time_machine.travel(now, tick=False):
        message = send(world_mw, body=BODY)
        assert deliver_now(message) == "retry"
    saved, delivery = _state(message)
    assert saved.status == Status.QUEUED
    assert saved.send_after == now + datetime.timedelta(seconds=tasks.BACKOFF[0])
    assert delivery.error_code == {"busy": "20429", "error": "20500", "timeout": "timeout"}[failure]
    with time_machine.travel(now + datetime.timedelta(seconds=10), tick=False):
        assert deliver_now(message) == "not-due"
    with time_machine.travel(now + datetime.timedelta(seconds=31), tick=False):
        assert deliver_now(message) == "sent"
    assert _state(message)[0].status == Status.SENT


def test_connection_refused_is_retryable(world_mw, twilio, settings):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        settings.CONFIDE_TWILIO_API_BASE = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with time_machine.travel(local_time(11), tick=False):
        message = send(world_mw, body=BODY)
        assert deliver_now(message) == "retry"
    assert _state(message)[1].error_code == "network"


def test_after_max_attempts_of_retryable_errors_the_message_fails(world_mw, twilio):
    twilio.fail_next(*["error"] * tasks.MAX_ATTEMPTS)
    at = local_time(11)
    with time_machine.travel(at, tick=False):
        message = send(world_mw, body=BODY)
    outcomes = []
    for _ in range(tasks.MAX_ATTEMPTS):
        with time_machine.travel(at, tick=False):
            outcomes.append(deliver_now(message))
        at = at + datetime.timedelta(hours=1)
    assert outcomes == ["retry"] * (tasks.MAX_ATTEMPTS - 1) + ["failed"]
    saved, delivery = _state(message)
    assert saved.status == Status.FAILED and saved.refusal_code == "provider-20500"
    assert delivery.error_code == "20500" and len(twilio.creates()) == tasks.MAX_ATTEMPTS


def _kill_after_provider_call(message, when):
    """The worker's story up to the provider call, then nothing: the status write never happens."""
    original = tasks._mark_sent
    with time_machine.travel(when, tick=False):
        tasks._mark_sent = lambda *a, **k: None
        try:
            assert deliver_now(message) == "sent"
        finally:
            tasks._mark_sent = original


def test_a_send_whose_status_write_was_lost_is_found_by_lookup_not_sent_again_MSG1(world_mw, twilio):
    at = local_time(11)
    with time_machine.travel(at, tick=False):
        message = send(world_mw, body=BODY)
    _kill_after_provider_call(message, at)
    assert _state(message)[0].status == Status.SENDING
    with time_machine.travel(at + datetime.timedelta(seconds=30), tick=False):
        assert deliver_now(message) == "taken"  # the lease still holds
    with time_machine.travel(at + tasks.lease() + datetime.timedelta(seconds=1), tick=False):
        assert deliver_now(message) == "recovered"
    saved, delivery = _state(message)
    assert saved.status == Status.SENT and delivery.provider_ref == twilio.messages[0]["sid"]
    assert len(twilio.creates()) == 1
    lists = [r for r in twilio.requests if r.method == "GET"]
    assert lists and lists[0].query["To"] == PHONE and lists[0].auth == (ACCOUNT_SID, AUTH_TOKEN)


def test_lookup_does_not_take_a_text_another_delivery_already_claimed(world_mw, twilio):
    at = local_time(11)
    with time_machine.travel(at, tick=False):
        first = send(world_mw, body=BODY)
        assert deliver_now(first) == "sent"
        second = send(world_mw, body=BODY)  # the same words, a second message
    _kill_after_provider_call(second, at + datetime.timedelta(seconds=5))
    with time_machine.travel(at + datetime.timedelta(seconds=5), tick=False):
        adapter = TwilioSMSAdapter()
        with tenant_context(practice_id=second.practice_id):
            found = adapter.lookup(second.idempotency_key)
    assert found is not None and found.provider_ref == twilio.messages[1]["sid"]


def test_lookup_answers_none_when_twilio_has_nothing_and_the_text_is_sent(world_mw, twilio):
    at = local_time(11)
    with time_machine.travel(at, tick=False):
        message = send(world_mw, body=BODY)
    with tenant_context(practice_id=message.practice_id):
        Message.objects.filter(pk=message.pk).update(status=Status.SENDING, lease_until=at, carried="body")
    with time_machine.travel(at + datetime.timedelta(seconds=1), tick=False):
        assert deliver_now(message) == "sent"
    assert len(twilio.creates()) == 1


def test_lookup_failing_leaves_the_message_claimed_and_sends_nothing(world_mw, twilio):
    at = local_time(11)
    with time_machine.travel(at, tick=False):
        message = send(world_mw, body=BODY)
    with tenant_context(practice_id=message.practice_id):
        Message.objects.filter(pk=message.pk).update(status=Status.SENDING, lease_until=at, carried="body")
    twilio.fail_next("error")
    with time_machine.travel(at + datetime.timedelta(seconds=1), tick=False):
        assert deliver_now(message) == "lookup-failed"
    assert twilio.creates() == [] and _state(message)[0].status == Status.SENDING


def test_the_adapter_logs_neither_number_nor_body(world_mw, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    twilio.fail_next("invalid")
    at = local_time(11)
    with time_machine.travel(at, tick=False):
        message = send(world_mw, body=BODY)
        deliver_now(message)
        second = send(world_mw, body=BODY)
    _kill_after_provider_call(second, at)
    with time_machine.travel(at + tasks.lease() + datetime.timedelta(seconds=1), tick=False):
        assert deliver_now(second) == "recovered"
    text = caplog.text
    assert "canary-body" not in text
    for form in (PHONE, "415 555 0142", "4155550142", "%2B1415"):
        assert form not in text


def test_missing_credentials_or_sender_is_a_clear_final_failure(world_mw, twilio, settings):
    settings.CONFIDE_TWILIO_FROM = ""
    with time_machine.travel(local_time(11), tick=False):
        message = send(world_mw, body=BODY)
        assert deliver_now(message) == "failed"
    assert "no sender" in _state(message)[0].refusal_reason
