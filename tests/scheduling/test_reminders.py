"""Appointment reminders (issue 16 item 3; SCH1, MSG2, CON1) with a fixed clock in 2027: a practice
in America/New_York, a patient whose number is in California (quiet hours in America/Los_Angeles),
across the March and November clock changes."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from confide.core.tenancy import tenant_context
from confide.scheduling.models import AppointmentType, ReminderStatus, SchedulingSettings, Status
from tests.scheduling.reminder_helpers import body_of, message_of, reminder_world, reminders_of, sweep_at, text_in, utc
from tests.scheduling.world import at, book_at

pytestmark = pytest.mark.django_db
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def rw(world):
    return reminder_world(world.a)


def _sent_to_sms(sw):
    from confide.messaging.models import Message

    with tenant_context(practice_id=sw.practice_id):
        return list(Message.objects.filter(patient_id=sw.patient.id, direction="out", topic="reminder").order_by("created_at"))


# --- planning ------------------------------------------------------------------------------------
def test_sch1_reminders_are_planned_48_and_2_hours_before_by_default(rw):
    appointment = book_at(rw, "2027-03-10 15:00")
    rows = reminders_of(rw, appointment)
    assert [(r.offset_minutes, r.due_at, r.status) for r in rows] == [
        (2880, utc("2027-03-08 20:00"), ReminderStatus.PLANNED),
        (120, utc("2027-03-10 18:00"), ReminderStatus.PLANNED),
    ]


def test_sch1_the_types_offsets_win_over_the_practices(rw):
    with tenant_context(practice_id=rw.practice_id):
        SchedulingSettings.objects.filter(practice_id=rw.practice_id).update(reminder_offsets=[1440])
    first = book_at(rw, "2027-03-10 10:00")
    assert [r.offset_minutes for r in reminders_of(rw, first)] == [1440]
    with tenant_context(practice_id=rw.practice_id):
        AppointmentType.objects.filter(pk=rw.kind.pk).update(reminder_offsets=[4320, 30])
    second = book_at(rw, "2027-03-11 10:00")
    assert [r.offset_minutes for r in reminders_of(rw, second)] == [4320, 30]
    with tenant_context(practice_id=rw.practice_id):
        SchedulingSettings.objects.filter(practice_id=rw.practice_id).update(reminders_enabled=False)
    assert reminders_of(rw, book_at(rw, "2027-03-12 10:00")) == []


def test_sch1_a_reminder_whose_time_passed_at_booking_is_never_sent_late(rw):
    now = utc("2027-03-10 16:00")  # the appointment is 4 hours ahead: the 48-hour reminder is past
    with time_machine.travel(now, tick=False):
        appointment = book_at(rw, "2027-03-10 15:00")
    rows = reminders_of(rw, appointment)
    assert [(r.offset_minutes, r.status, r.outcome_code) for r in rows] == [(2880, "skipped", "past"), (120, "planned", "")]
    assert sweep_at(rw, now + SECOND) == 0 and _sent_to_sms(rw) == []
    assert sweep_at(rw, utc("2027-03-10 18:00")) == 1
    assert [r.status for r in reminders_of(rw, appointment)] == ["skipped", "sent"]


# --- sending at the right instants ----------------------------------------------------------------
def test_sch1_48h_and_2h_reminders_go_at_their_instants_with_the_practices_time(rw, world):
    appointment = book_at(rw, "2027-03-10 15:00")  # Wednesday 3 PM EST = 20:00 UTC
    assert sweep_at(rw, utc("2027-03-08 19:59:59")) == 0
    assert sweep_at(rw, utc("2027-03-08 20:00")) == 1  # noon in San Francisco: inside the hours
    first, second = reminders_of(rw, appointment)
    assert (first.status, first.channel, first.sent_at) == ("sent", "sms", utc("2027-03-08 20:00"))
    message = message_of(rw, first)
    assert (message.status, message.channel, message.topic, message.kind) == ("queued", "sms", "reminder", "operational")
    assert body_of(rw, message) == (
        f"You have an appointment with {world.a.practice.name} on Wednesday, March 10 at 3:00 PM EST. "
        "Reply C to confirm, R to reschedule."
    )
    assert second.status == "planned"
    from tests.messaging.conftest import deliver_now

    with time_machine.travel(utc("2027-03-08 20:00:05"), tick=False):  # the final gate: egress of phone + appointment time
        assert deliver_now(message) == "sent"
    assert sweep_at(rw, utc("2027-03-08 20:01")) == 0  # sent once
    assert sweep_at(rw, utc("2027-03-10 18:00")) == 1
    assert [r.status for r in reminders_of(rw, appointment)] == ["sent", "sent"]
    assert len(_sent_to_sms(rw)) == 2


def test_sch1_spring_forward_quiet_hours_in_the_patients_zone_defer_or_skip(rw):
    # Monday 15 March 2027, 11:00 EDT (15:00 UTC): the clocks went forward on Sunday 14 March.
    appointment = book_at(rw, "2027-03-15 11:00")
    first, second = reminders_of(rw, appointment)
    assert first.due_at == utc("2027-03-13 15:00")  # 48 elapsed hours: 10:00 EST on Saturday
    assert second.due_at == utc("2027-03-15 13:00")
    # Saturday 07:00 in San Francisco (PST): the gate holds it until 08:00 PST, before the start.
    sweep_at(rw, utc("2027-03-13 15:00"))
    first = reminders_of(rw, appointment)[0]
    message = message_of(rw, first)
    assert (first.status, first.outcome_code) == ("sent", "quiet-hours")
    assert (message.status, message.send_after) == ("deferred", utc("2027-03-13 16:00"))
    assert "11:00 AM EDT" in body_of(rw, message)
    # Monday 06:00 PDT: held until 08:00 PDT = 15:00 UTC, the start itself: skipped, never sent.
    sweep_at(rw, utc("2027-03-15 13:00"))
    second = reminders_of(rw, appointment)[1]
    late = message_of(rw, second)
    assert (second.status, second.outcome_code) == ("skipped", "quiet-hours")
    assert (late.status, late.refusal_code) == ("refused", "reminder-too-late")
    from tests.messaging.conftest import deliver_now

    with time_machine.travel(utc("2027-03-15 15:00"), tick=False):
        deliver_now(late)
    assert message_of(rw, second).status == "refused"
    from confide.scheduling.reminders import reminder_rows

    with tenant_context(practice_id=rw.practice_id):
        words = [row.outcome for row in reminder_rows(appointment)]
    assert words == ["Waiting for the allowed hours, by text", "Skipped: quiet hours until after the appointment"]


def test_sch1_fall_back_the_2h_reminder_goes_at_8_am_pacific(rw):
    # Monday 8 November 2027, 1 PM EST (18:00 UTC): the clocks went back on Sunday 7 November.
    appointment = book_at(rw, "2027-11-08 13:00")
    first, second = reminders_of(rw, appointment)
    assert (first.due_at, second.due_at) == (utc("2027-11-06 18:00"), utc("2027-11-08 16:00"))
    sweep_at(rw, utc("2027-11-06 18:00"))  # Saturday 11:00 PDT
    sweep_at(rw, utc("2027-11-08 16:00"))  # Monday 08:00 PST: the first allowed minute
    first, second = reminders_of(rw, appointment)
    assert [(r.status, message_of(rw, r).status) for r in (first, second)] == [("sent", "queued"), ("sent", "queued")]
    assert "Monday, November 8 at 1:00 PM EST" in body_of(rw, message_of(rw, second))


# --- moved, cancelled, refused ----------------------------------------------------------------------
def test_sch1_a_moved_appointments_unsent_reminders_are_replaced(rw):
    from confide.scheduling.services import move

    appointment = book_at(rw, "2027-03-10 15:00")
    moved = move(rw.front_desk, appointment.pk, version=appointment.version, starts_at=at("2027-03-12 15:00"))
    rows = reminders_of(rw, moved)
    assert sorted((r.status, r.outcome_code, r.due_at) for r in rows) == sorted([
        ("cancelled", "moved", utc("2027-03-08 20:00")), ("cancelled", "moved", utc("2027-03-10 18:00")),
        ("planned", "", utc("2027-03-10 20:00")), ("planned", "", utc("2027-03-12 18:00")),
    ])  # fmt: skip
    assert sweep_at(rw, utc("2027-03-08 20:00")) == 0 and _sent_to_sms(rw) == []
    assert sweep_at(rw, utc("2027-03-10 20:00")) == 1


def test_sch1_a_cancelled_appointments_reminders_are_cancelled(rw):
    from confide.scheduling.services import cancel

    appointment = book_at(rw, "2027-03-10 15:00")
    sweep_at(rw, utc("2027-03-08 20:00"))
    current = _appointment(rw, appointment)
    cancel(rw.front_desk, appointment.pk, version=current.version, reason="patient_request", by_patient=True)
    assert [(r.status, r.outcome_code) for r in reminders_of(rw, appointment)] == [("sent", ""), ("cancelled", "appointment-cancelled")]
    assert sweep_at(rw, utc("2027-03-10 18:00")) == 0 and len(_sent_to_sms(rw)) == 1


def test_con1_a_refusal_by_the_gate_is_recorded_on_the_reminder(world):
    from confide.messaging.models import NotificationPreference
    from confide.scheduling.reminders import reminder_rows

    sw = reminder_world(world.a, texts=False)  # never agreed to texts
    with tenant_context(practice_id=sw.practice_id):  # and wants reminders by text only
        NotificationPreference.objects.create(practice_id=sw.practice_id, patient_id=sw.patient.id, topic="reminders",
                                              portal=False, sms=True, email=False)  # fmt: skip
    appointment = book_at(sw, "2027-03-10 15:00")
    sweep_at(sw, utc("2027-03-08 20:00"))
    first = reminders_of(sw, appointment)[0]
    assert (first.status, first.channel, first.outcome_code) == ("refused", "sms", "consent-sms")
    assert message_of(sw, first).status == "refused"
    with tenant_context(practice_id=sw.practice_id):
        rows = reminder_rows(appointment)
    assert rows[0].outcome == "Not sent: no consent to texts" and rows[0].offset == "2 days before"


def test_msg2_without_consent_to_texts_the_reminder_goes_by_e_mail(world):
    sw = reminder_world(world.a, texts=False)
    appointment = book_at(sw, "2027-03-10 15:00")
    sweep_at(sw, utc("2027-03-08 20:00"))
    first = reminders_of(sw, appointment)[0]
    assert (first.status, first.channel) == ("sent", "email")
    assert body_of(sw, message_of(sw, first)).endswith("To confirm or change it, contact the practice.")


# --- replies -------------------------------------------------------------------------------------------
def _reminded(rw, wall="2027-03-10 15:00", due="2027-03-08 20:00"):
    appointment = book_at(rw, wall)
    sweep_at(rw, utc(due))
    return appointment


def _appointment(rw, appointment):
    from confide.scheduling.models import Appointment

    with tenant_context(practice_id=rw.practice_id):
        return Appointment.objects.get(pk=appointment.pk)


def _replies(rw):
    return [m for m in _sent_to_sms(rw) if m.thread_id and "appointment with" not in body_of(rw, m)]


@pytest.mark.parametrize("word", ["C", " c. ", "Confirm!"])
def test_sch1_a_c_reply_confirms_and_gets_one_thank_you(rw, word):
    appointment = _reminded(rw)
    outcome = text_in(rw, word, utc("2027-03-08 21:00"), sid="SMc1")
    assert (outcome.result, outcome.answered) == ("filed", "confirmed")
    assert _appointment(rw, appointment).status == Status.CONFIRMED
    assert reminders_of(rw, appointment)[0].reply == "confirmed"
    replies = _replies(rw)
    assert [body_of(rw, m) for m in replies] == [
        f"{rw.pw.practice.name}: Thanks, your appointment on Wednesday, March 10 at 3:00 PM EST is confirmed."
    ]
    text_in(rw, "C", utc("2027-03-08 21:05"), sid="SMc2")  # a second C: still confirmed, no second reply
    assert len(_replies(rw)) == 1
    assert body_of(rw, _inbound(rw)[0]) == word.strip()  # the text itself is in the thread as usual


def _inbound(rw):
    from confide.messaging.models import Message

    with tenant_context(practice_id=rw.practice_id):
        return list(Message.objects.filter(patient_id=rw.patient.id, direction="in").order_by("created_at"))


def test_sch1_an_r_reply_flags_the_appointment_and_the_thread(rw):
    from confide.messaging.models import Thread

    appointment = _reminded(rw)
    outcome = text_in(rw, "R", utc("2027-03-08 21:00"), sid="SMr1")
    assert outcome.answered == "reschedule"
    changed = _appointment(rw, appointment)
    assert changed.reschedule_requested_at == utc("2027-03-08 21:00") and changed.status == Status.BOOKED
    with tenant_context(practice_id=rw.practice_id):
        thread = Thread.objects.get(patient_id=rw.patient.id, link_id=None)
    assert (thread.urgent, thread.urgent_reason) == (True, "reschedule")
    assert [body_of(rw, m) for m in _replies(rw)] == [f"{rw.pw.practice.name}: We will contact you to find a new time."]


@pytest.mark.parametrize("body", ["yes", "C please", "Can I come later?"])
def test_sch1_anything_else_is_an_ordinary_message(rw, body):
    appointment = _reminded(rw)
    outcome = text_in(rw, body, utc("2027-03-08 21:00"), sid="SMo1")
    assert outcome.answered == "" and _appointment(rw, appointment).status == Status.BOOKED
    assert _replies(rw) == [] or outcome.result == "keyword"  # "yes" is START's keyword, answered as such


def test_sch1_a_c_without_a_recent_reminder_confirms_nothing(rw):
    appointment = _reminded(rw)
    outcome = text_in(rw, "C", utc("2027-03-12 21:00"), sid="SMl1")  # after the appointment
    assert outcome.answered == "" and _appointment(rw, appointment).status == Status.BOOKED


def test_msg2_stop_wins_over_c_and_no_text_reminder_follows(rw):
    appointment = _reminded(rw)
    stopped = text_in(rw, "STOP", utc("2027-03-08 21:00"), sid="SMs1")
    assert (stopped.result, stopped.keyword) == ("keyword", "opt-out")
    assert _appointment(rw, appointment).status == Status.BOOKED and reminders_of(rw, appointment)[0].reply == ""
    # A C after the STOP: the confirmation is recorded, but nothing is texted back (the opt-out stands).
    answered = text_in(rw, "C", utc("2027-03-08 21:05"), sid="SMs2")
    assert answered.answered == "confirmed"
    assert [m.status for m in _replies(rw)] == ["refused"]
    sweep_at(rw, utc("2027-03-10 18:00"))
    second = reminders_of(rw, appointment)[1]
    assert second.channel != "sms"  # STOP withdrew the texts: the 2-hour reminder is not a text
    assert all(m.channel != "sms" for m in _sent_to_sms(rw)[1:] if m.status not in ("refused",))


def test_the_reminder_job_sends_reminders_only(rw):
    from confide.access.door import REMINDER_JOB
    from confide.core.errors import Forbidden
    from confide.messaging.services import send_message

    with tenant_context(practice_id=rw.practice_id), pytest.raises(Forbidden):
        send_message(REMINDER_JOB.for_practice(rw.practice_id), patient_id=rw.patient.id, channel="sms", topic="staff_reply", body="Hi")
    assert _sent_to_sms(rw) == []
