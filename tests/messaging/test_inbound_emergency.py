"""MSG5: an inbound text (SMS or portal) that signals an emergency gets an immediate reply to
call 911 (and 988 for a crisis), whatever the hour and whatever the consent, and the thread is
flagged urgent; never silent, even when the reply cannot go."""

from __future__ import annotations

import pytest
import time_machine

from confide.core.tenancy import tenant_context
from confide.messaging import keywords
from confide.messaging.inbound import handle_inbound_text, set_opt_out
from confide.messaging.models import DEFAULT_CRISIS_PHRASES, DEFAULT_EMERGENCY_PHRASES, Message, MessagingSettings, Status, Thread, Topic
from tests.messaging.conftest import local_time, messaging_world
from tests.messaging.inbound_helpers import PATIENT_NUMBER, STRANGER, give_number, text_in, twilio  # noqa: F401


@pytest.mark.parametrize(("text", "expected"), [
    ("I want to kill myself", "crisis"), ("thinking about SUICIDE", "crisis"), ("I took an overdose", "crisis"),
    ("I have chest pain", "emergency"), ("I can't breathe", "emergency"), ("I can’t breathe", "emergency"),
    ("this is an emergency!", "emergency"), ("Not an emergency, just a question", "emergency"),
    ("nonemergency question about parking", None), ("my chest is fine, pain in the knee", None), ("Breathe easy, see you", None),
])  # fmt: skip
def test_phrases_match_words_not_substrings_MSG5(text, expected):
    assert keywords.emergency(text, DEFAULT_EMERGENCY_PHRASES, DEFAULT_CRISIS_PHRASES) == expected


def _thread(mw):
    with tenant_context(practice_id=mw.practice_id):
        return Thread.objects.get(patient_id=mw.patient.id)


def _emergency_replies(mw):
    with tenant_context(practice_id=mw.practice_id):
        return list(Message.objects.filter(topic=Topic.EMERGENCY_REPLY))


def _body(mw, message):
    from confide.access.door import MESSAGING_SEND_JOB, open_chart
    from confide.core.purposes import Purpose

    job = MESSAGING_SEND_JOB.for_practice(mw.practice_id)
    with open_chart(job, mw.patient.id, Purpose.OPERATIONS, categories={"communications.messages"}):
        return message.body


def test_an_sms_emergency_at_night_without_consent_gets_the_911_reply_and_an_urgent_thread_MSG5(world, twilio):
    mw = messaging_world(world.a, consent=False)  # never agreed to texts
    give_number(mw.practice_id)
    with time_machine.travel(local_time(2), tick=False):  # 02:00 in San Francisco
        assert text_in("I have chest pain and feel dizzy").status_code == 200
    (reply,) = _emergency_replies(mw)
    assert reply.channel == "sms" and reply.status == Status.QUEUED
    assert "911" in _body(mw, reply) and "988" not in _body(mw, reply)
    thread = _thread(mw)
    assert thread.urgent and thread.urgent_reason == "emergency"


def test_a_crisis_adds_the_crisis_line_MSG5(mw, twilio):
    give_number(mw.practice_id)
    text_in("i want to end my life")
    (reply,) = _emergency_replies(mw)
    assert "911" in _body(mw, reply) and "988" in _body(mw, reply)
    assert _thread(mw).urgent_reason == "crisis"


def test_an_opted_out_number_still_flags_the_thread_and_the_refusal_is_shown_MSG5(mw, twilio):
    give_number(mw.practice_id)
    set_opt_out(mw.practice_id, PATIENT_NUMBER, opted_out=True, source="keyword")
    text_in("overdose")
    (reply,) = _emergency_replies(mw)
    assert reply.status == Status.REFUSED and reply.refusal_code == "opted-out" and reply.refusal_reason
    assert _thread(mw).urgent


def test_a_portal_emergency_gets_a_portal_reply_MSG5(mw):
    from tests.portal_world import actor_for, link, make_portal_user

    # A portal message comes from the patient's own account: the door re-reads its link.
    account = link(make_portal_user("marisol@portal.test"), mw.patient)
    outcome = handle_inbound_text(mw.practice_id, mw.patient.id, "portal", "Help, I can't breathe", actor=actor_for(account))
    assert outcome.urgent == "emergency" and outcome.reply == Status.DELIVERED
    (reply,) = _emergency_replies(mw)
    assert reply.channel == "portal" and "911" in _body(mw, reply)
    assert _thread(mw).urgent


def test_the_practice_adds_its_own_phrases_and_wording_MSG5(mw, twilio):
    give_number(mw.practice_id)
    with tenant_context(practice_id=mw.practice_id):
        MessagingSettings.objects.filter(practice_id=mw.practice_id).update(
            emergency_phrases="allergic reaction\nswelling throat", emergency_reply="Call 911 now, or go to the nearest ER.")
    text_in("My throat is swelling. Allergic reaction?")
    (reply,) = _emergency_replies(mw)
    assert "nearest ER" in _body(mw, reply)


def test_an_emergency_from_an_unknown_number_is_answered_and_queued_as_urgent_MSG5(mw, twilio, django_capture_on_commit_callbacks):
    from confide.messaging.models import OutboxEntry, UnmatchedInbound
    from confide.messaging.addresses import phone_blind

    give_number(mw.practice_id)
    with django_capture_on_commit_callbacks(execute=True):
        text_in("chest pain please call", sender=STRANGER)
    with tenant_context(practice_id=mw.practice_id):
        (row,) = UnmatchedInbound.objects.all()
        assert row.urgent_reason == "emergency"
        assert OutboxEntry.objects.filter(recipient_blind=phone_blind(mw.practice_id, STRANGER)).count() == 1
