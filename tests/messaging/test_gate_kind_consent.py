"""The send gate, steps 1 and 2: the kind of message, then consent and notification preferences
(MSG2, CON1, CON3, MSG6). Clocks are fixed at 11:00 in the patient's time (San Francisco) so
quiet hours never decide."""

from __future__ import annotations

import uuid

import pytest
import time_machine

from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from confide.messaging import gate
from confide.messaging.models import Message, NotificationPreference, NotificationTopic, Status
from tests.messaging.conftest import deliver_now, local_time, messaging_world, send
from tests.messaging.gate_support import fresh, grant, outbox_bodies, with_patient, withdraw

ELEVEN = local_time(11)


def _outgoing(mw, **fields) -> gate.Outgoing:
    values = {"practice_id": mw.practice_id, "patient_id": mw.patient.id, "channel": "sms", "topic": "staff_reply",
              "kind": "operational", "body": "See you at 3.", "to": "+1 415 555 0142", "address": {"state": "CA"},
              "now": ELEVEN} | fields  # fmt: skip
    return gate.Outgoing(**values)


def _check(mw, **fields) -> gate.Decision:
    with tenant_context(practice_id=mw.practice_id):
        return gate.check(_outgoing(mw, **fields), final=False)


# --- 1. kind -------------------------------------------------------------------------------------
def test_a_campaign_cannot_be_sent_as_an_operational_message_MSG2(mw):
    assert _check(mw, topic="campaign", kind="operational").code == "kind-mismatch"
    assert _check(mw, topic="reminder", kind="marketing").code == "kind-mismatch"
    assert _check(mw, topic="coupon", kind="operational").code == "kind-unknown"
    assert _check(mw, topic="reminder", kind="operational").sends


def test_a_stored_campaign_relabelled_operational_is_refused_by_the_final_gate_MSG2(mw):
    grant(mw, "marketing_sms")
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, topic="campaign", body="Spring check-ups: 10% off.")
        assert message.status == Status.QUEUED
        with tenant_context(practice_id=mw.practice_id):
            Message.objects.filter(pk=message.pk).update(kind="operational")
        assert deliver_now(message) == "refused"
    assert fresh(message).refusal_code == "kind-mismatch"
    assert outbox_bodies(mw) == []


# --- 2. consent ----------------------------------------------------------------------------------
def test_marketing_text_needs_marketing_sms_and_texts_consent_is_not_enough_MSG2_CON1(mw):
    # mw's patient consented to texts about their care (sms_texts) only.
    with time_machine.travel(ELEVEN, tick=False):
        refused = send(mw, topic="campaign", body="Spring check-ups: 10% off.")
        assert (refused.status, refused.refusal_code) == (Status.REFUSED, "consent-marketing")
        grant(mw, "marketing_email")  # e-mail marketing is not marketing by text
        assert send(mw, topic="campaign", body="Spring check-ups.").refusal_code == "consent-marketing"
        grant(mw, "marketing_sms")
        allowed = send(mw, topic="campaign", body="Spring check-ups.")
        assert allowed.status == Status.QUEUED
        assert deliver_now(allowed) == "sent"
    assert outbox_bodies(mw) == ["Spring check-ups."]


def test_marketing_consent_never_stands_in_for_consent_to_texts_MSG2_CON1(mw):
    other = with_patient(mw, consent=("marketing_sms",))
    with time_machine.travel(ELEVEN, tick=False):
        message = send(other, body="Your forms are ready.")
    assert (message.status, message.refusal_code) == (Status.REFUSED, "consent-sms")


def test_marketing_email_needs_marketing_email_MSG2(mw):
    other = with_patient(mw, consent=("marketing_sms",), email="ana@example.test")
    with time_machine.travel(ELEVEN, tick=False):
        assert send(other, channel="email", topic="campaign", body="Our newsletter.").refusal_code == "consent-marketing"
        grant(other, "marketing_email")
        assert send(other, channel="email", topic="campaign", body="Our newsletter.").status == Status.QUEUED


def test_replies_the_patients_own_text_asked_for_need_no_consent_to_texts_CON1(mw):
    other = with_patient(mw, consent=())
    assert _check(other, topic="staff_reply").code == "consent-sms"
    assert _check(other, topic="keyword_reply").sends
    assert _check(other, topic="emergency_reply").sends


@pytest.mark.parametrize("topic", ["keyword_reply", "emergency_reply", "security"])
def test_staff_cannot_write_the_messages_that_skip_consent_or_hours(mw, topic):
    with pytest.raises(InvalidInput):
        send(mw, topic=topic, body="Reply STOP to stop.")


def test_no_number_or_address_is_refused_as_no_address(mw):
    other = with_patient(mw, phone="", email="")
    with time_machine.travel(ELEVEN, tick=False):
        assert send(other, body="Your forms are ready.").refusal_code == "no-address"
        assert send(other, channel="email", body="Your forms are ready.").refusal_code == "no-address"


def test_a_withdrawal_after_queueing_stops_the_send_before_it_leaves_CON1(mw):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your forms are ready.")
        assert message.status == Status.QUEUED
        withdraw(mw, "sms_texts")
        assert deliver_now(message) == "refused"
    assert fresh(message).refusal_code == "consent-sms"
    assert outbox_bodies(mw) == []


def test_a_marketing_withdrawal_after_queueing_stops_the_campaign_CON1_MSG2(mw):
    grant(mw, "marketing_sms")
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, topic="campaign", body="Spring check-ups.")
        withdraw(mw, "marketing_sms")
        assert deliver_now(message) == "refused"
    assert fresh(message).refusal_code == "consent-marketing"
    assert outbox_bodies(mw) == []


def test_refusing_marketing_never_blocks_care_messages_CON3(mw):
    grant(mw, "marketing_sms")
    withdraw(mw, "marketing_sms")
    with time_machine.travel(ELEVEN, tick=False):
        assert send(mw, topic="campaign", body="Offers.").status == Status.REFUSED
        message = send(mw, body="Your forms are ready.")
        assert deliver_now(message) == "sent"
    assert outbox_bodies(mw)  # the care message went


def test_portal_messages_always_go_whatever_the_consents_CON3(mw):
    nobody = with_patient(mw, consent=())
    withdrawn = with_patient(mw)
    withdraw(withdrawn, "sms_texts")
    for who in (nobody, withdrawn):
        assert send(who, channel="portal", body="Your results are in.").status == Status.DELIVERED
        assert send(who, channel="portal", topic="reminder", body="Visit tomorrow.").status == Status.DELIVERED
    # News in the portal is still marketing: it needs an opt-in.
    assert send(nobody, channel="portal", topic="campaign", body="Offers.").refusal_code == "consent-marketing"


# --- 2b. notification preferences (MSG6) -----------------------------------------------------------
def _prefer(mw, topic: str, **channels):
    with tenant_context(practice_id=mw.practice_id):
        NotificationPreference.objects.update_or_create(
            practice_id=mw.practice_id, patient_id=mw.patient.id, topic=topic,
            defaults={"portal": True, "sms": True, "email": True} | channels,
        )  # fmt: skip


def test_a_kind_of_notification_turned_off_for_a_channel_is_refused_MSG6(mw):
    other = with_patient(mw, email="ana@example.test")
    _prefer(other, NotificationTopic.REMINDERS, sms=False)
    with time_machine.travel(ELEVEN, tick=False):
        assert send(other, topic="reminder", body="Visit tomorrow at 3.").refusal_code == "preference"
        assert send(other, channel="email", topic="reminder", body="Visit tomorrow at 3.").status == Status.QUEUED
        # A staff reply is not a notification the patient can turn off.
        assert send(other, body="Your forms are ready.").status == Status.QUEUED


def test_a_preference_changed_after_queueing_is_honoured_before_the_send_MSG6(mw):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, topic="reminder", body="Visit tomorrow at 3.")
        assert message.status == Status.QUEUED
        _prefer(mw, NotificationTopic.REMINDERS, sms=False)
        assert deliver_now(message) == "refused"
    assert fresh(message).refusal_code == "preference"


def test_the_gate_reads_preferences_of_its_own_practice_only_MSG6(world):
    a = messaging_world(world.a)
    _prefer(a, NotificationTopic.REMINDERS, sms=False)
    b = messaging_world(world.b)
    with time_machine.travel(ELEVEN, tick=False):
        assert send(b, topic="reminder", body="Visit tomorrow.").status == Status.QUEUED
    assert uuid.UUID(str(a.practice_id)) != uuid.UUID(str(b.practice_id))
