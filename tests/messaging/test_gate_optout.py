"""The send gate, step 3: opt-out state (MSG3). A number that said STOP gets nothing but the
keyword's one confirmation; an address that unsubscribed gets no more news but still its care
e-mail (CON3)."""

from __future__ import annotations

import time_machine
from django.utils import timezone

from confide.access.door import MESSAGING_SEND_JOB
from confide.core.tenancy import tenant_context
from confide.messaging.addresses import email_blind, phone_blind
from confide.messaging.models import EmailOptOut, PhoneOptOut, Status
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.gate_support import fresh, grant, outbox_bodies, with_patient

ELEVEN = local_time(11)


def _stop(mw, phone="+1 415 555 0142"):
    with tenant_context(practice_id=mw.practice_id):
        PhoneOptOut.objects.create(practice_id=mw.practice_id, phone_blind=phone_blind(mw.practice_id, phone), source="keyword",
                                   changed_at=timezone.now())  # fmt: skip


def _unsubscribe(mw, email):
    with tenant_context(practice_id=mw.practice_id):
        EmailOptOut.objects.create(practice_id=mw.practice_id, email_blind=email_blind(mw.practice_id, email), source="link",
                                   changed_at=timezone.now())  # fmt: skip


def test_a_number_that_said_stop_gets_no_text_of_any_kind_MSG3(mw):
    grant(mw, "marketing_sms")
    job = MESSAGING_SEND_JOB.for_practice(mw.practice_id)
    _stop(mw, "(415) 555-0142")  # the same number, written another way: the blind index is of E.164
    with time_machine.travel(ELEVEN, tick=False):
        for topic, actor in (("staff_reply", None), ("reminder", None), ("campaign", None), ("emergency_reply", job)):
            message = send(mw, topic=topic, body="Hello.", actor=actor)
            assert (message.status, message.refusal_code) == (Status.REFUSED, "opted-out"), topic
        confirmation = send(mw, topic="keyword_reply", body="You have been unsubscribed. Reply START to resubscribe.", actor=job)
        assert confirmation.status == Status.QUEUED
        assert deliver_now(confirmation) == "sent"
    assert outbox_bodies(mw) == ["You have been unsubscribed. Reply START to resubscribe."]


def test_a_stop_recorded_after_queueing_stops_the_send_MSG3(mw):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your forms are ready.")
        _stop(mw)
        assert deliver_now(message) == "refused"
    assert fresh(message).refusal_code == "opted-out"
    assert outbox_bodies(mw) == []


def test_a_start_lifts_the_opt_out_MSG3(mw):
    _stop(mw)
    with tenant_context(practice_id=mw.practice_id):
        PhoneOptOut.objects.filter(practice_id=mw.practice_id).update(opted_out=False)
    with time_machine.travel(ELEVEN, tick=False):
        assert send(mw, body="Welcome back.").status == Status.QUEUED


def test_another_number_is_not_opted_out_by_a_stop_MSG3(mw):
    _stop(mw, "+1 415 555 0199")
    with time_machine.travel(ELEVEN, tick=False):
        assert send(mw, body="Your forms are ready.").status == Status.QUEUED


def test_an_unsubscribed_address_gets_no_news_but_still_its_care_email_MSG3_CON3(mw):
    other = with_patient(mw, consent=("marketing_email",), email="Ana@Example.test")
    _unsubscribe(other, "ana@example.test")
    with time_machine.travel(ELEVEN, tick=False):
        news = send(other, channel="email", topic="campaign", body="Our newsletter.")
        assert (news.status, news.refusal_code) == (Status.REFUSED, "opted-out")
        care = send(other, channel="email", topic="reminder", body="Your visit is tomorrow.")
        assert care.status == Status.QUEUED
        assert deliver_now(care) == "sent"


def test_an_e_mail_opt_out_does_not_stop_texts_and_a_stop_does_not_stop_e_mail_CON3(mw):
    other = with_patient(mw, email="ana@example.test")
    _unsubscribe(other, "ana@example.test")
    _stop(other)
    with time_machine.travel(ELEVEN, tick=False):
        assert send(other, channel="email", body="Your forms are ready.").status == Status.QUEUED
        assert send(other, channel="sms", body="Your forms are ready.").refusal_code == "opted-out"
