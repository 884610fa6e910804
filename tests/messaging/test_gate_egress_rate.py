"""The send gate, steps 6 and 7: the egress gate for the channel's processor (PRC1) and the rate
limits (per patient per channel per day, per practice per minute: deferred, never dropped)."""

from __future__ import annotations

import datetime

import time_machine
from django.core import mail

from confide.access.door import MESSAGING_SEND_JOB
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.messaging import gate
from confide.messaging.models import Status
from confide.messaging.tasks import sweep
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.gate_support import (
    SMS_NOT_IN_USE,
    SMS_WITHOUT_BAA,
    codes,
    fresh,
    outbox_bodies,
    outbox_count,
    with_patient,
    world_declaring,
)

ELEVEN = local_time(11)
NOTICE = "You have a new secure message from {}. Sign in to the patient portal to read it."


def _egress_entries(practice_id) -> list[AuditEntry]:
    with tenant_context(practice_id=practice_id):
        return list(AuditEntry.objects.filter(practice_id=practice_id, event__startswith="policy:egress:"))


# --- 6. egress ---------------------------------------------------------------------------------------
def test_texts_through_a_processor_not_in_use_are_refused_as_egress_PRC1(world):
    mw = world_declaring(world.b, SMS_NOT_IN_USE)
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your forms are ready.")
        assert message.status == Status.QUEUED  # composing does not ask the egress gate (no entry)
        assert _egress_entries(mw.practice_id) == []
        assert deliver_now(message) == "refused"
    assert (fresh(message).status, fresh(message).refusal_code) == (Status.REFUSED, "egress")
    assert [e.reason for e in _egress_entries(mw.practice_id)] == ["processor_not_in_use"]
    assert codes(message, "messaging:message:refused") == ["egress"]
    assert outbox_bodies(mw) == []


def test_texts_through_a_processor_without_a_baa_are_refused_as_egress_PRC1(world):
    mw = world_declaring(world.b, SMS_WITHOUT_BAA)
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your forms are ready.")
        assert deliver_now(message) == "refused"
    assert fresh(message).refusal_code == "egress"
    assert [e.reason for e in _egress_entries(mw.practice_id)] == ["no_baa"]
    assert outbox_bodies(mw) == []


def test_an_undeclared_processor_is_refused_PRC1(mw):
    out = gate.Outgoing(practice_id=mw.practice_id, patient_id=mw.patient.id, channel="sms", topic="staff_reply", kind="operational",
                        body="Hello.", to="+1 415 555 0142", address={"state": "CA"}, processor_id="pager", now=ELEVEN)  # fmt: skip
    with tenant_context(practice_id=mw.practice_id):
        decision = gate.check(out, final=True, actor=MESSAGING_SEND_JOB.for_practice(mw.practice_id))
    assert (decision.outcome, decision.code) == ("refuse", "egress")
    assert "processor_not_declared" in decision.reason


def test_a_body_the_processor_may_not_receive_falls_back_to_the_notice_PRC1_MSG4(mw):
    # The e-mail processor here is declared for contact details, not message bodies.
    other = with_patient(mw, consent=("phi_by_email",), email="ana@example.test")
    mail.outbox.clear()
    with time_machine.travel(ELEVEN, tick=False):
        message = send(other, channel="email", body="Your biopsy result is benign.")
        assert deliver_now(message) == "sent"
    (notice,) = [m.body for m in mail.outbox]
    assert notice.startswith(NOTICE.format(mw.pw.practice.name).rstrip(".")) and "/portal/" in notice
    assert fresh(message).carried == "notice"
    assert {e.reason for e in _egress_entries(mw.practice_id) if e.outcome == "denied"} == {"category_not_declared"}


def test_the_egress_gate_writes_its_entry_only_on_the_final_run_PRC1(mw):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your forms are ready.")
        assert _egress_entries(mw.practice_id) == []
        assert deliver_now(message) == "sent"
    allowed = [e for e in _egress_entries(mw.practice_id) if e.event == "policy:egress:allowed"]
    assert len(allowed) == 1
    assert allowed[0].detail["processor"] == "sms"


# --- 7. rate limits --------------------------------------------------------------------------------
def test_the_patients_daily_limit_defers_and_the_text_goes_when_the_oldest_is_a_day_old(mw, settings):
    settings.CONFIDE_MESSAGES_PER_PATIENT_DAY = 2
    first_at, second_at = local_time(9), local_time(10)
    for when in (first_at, second_at):
        with time_machine.travel(when, tick=False):
            assert deliver_now(send(mw, body="Your forms are ready.")) == "sent"
    with time_machine.travel(local_time(11), tick=False):
        third = send(mw, body="Your forms are ready.")
        assert (third.status, third.refusal_code) == (Status.DEFERRED, "rate-patient")
        assert third.send_after == first_at + datetime.timedelta(hours=24)
        # Another channel has its own count.
        other_channel = send(mw, channel="email", body="Your forms are ready.")
        assert other_channel.status == Status.QUEUED
    with time_machine.travel(third.send_after, tick=False):
        assert sweep() >= 1
    assert fresh(third).status == Status.SENT
    assert outbox_count(third) == 1


def test_the_practices_per_minute_limit_defers_by_the_minute(mw, settings):
    settings.CONFIDE_MESSAGES_PER_PRACTICE_MINUTE = 2
    others = [with_patient(mw) for _ in range(3)]
    start = local_time(11)
    with time_machine.travel(start, tick=False):
        for who in others[:2]:
            assert deliver_now(send(who, body="Your forms are ready.")) == "sent"
        held = send(others[2], body="Your forms are ready.")
    assert (held.status, held.refusal_code) == (Status.DEFERRED, "rate-practice")
    assert held.send_after == start + datetime.timedelta(minutes=1)
    with time_machine.travel(held.send_after, tick=False):
        assert deliver_now(held) == "sent"


def test_replies_the_patient_asked_for_are_not_rate_limited(mw, settings):
    settings.CONFIDE_MESSAGES_PER_PATIENT_DAY = 1
    job = MESSAGING_SEND_JOB.for_practice(mw.practice_id)
    with time_machine.travel(ELEVEN, tick=False):
        assert deliver_now(send(mw, body="Your forms are ready.")) == "sent"
        assert send(mw, body="And another.").refusal_code == "rate-patient"
        reply = send(mw, topic="keyword_reply", body="Reply STOP to unsubscribe.", actor=job)
        assert deliver_now(reply) == "sent"


def test_a_send_in_flight_counts_against_the_limit(mw, settings):
    """Two sends claimed at once: the one in flight (no sent time yet) counts as sent now."""
    from confide.messaging.models import Message

    settings.CONFIDE_MESSAGES_PER_PATIENT_DAY = 1
    with time_machine.travel(ELEVEN, tick=False):
        first = send(mw, body="One.")
        with tenant_context(practice_id=mw.practice_id):
            Message.objects.filter(pk=first.pk).update(status=Status.SENDING)
        assert send(mw, body="Two.").refusal_code == "rate-patient"
