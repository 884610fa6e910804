"""The send gate, step 4: quiet hours in the recipient's local time (TCPA §64.1200(c)(1): 8:00–
21:00; Florida §501.616(6) and Oklahoma §775C: 8:00–20:00 and at most 3 texts per 24 hours on one
subject). The time zone comes from the patient's address, then the number's area code, then the
practice. Fixed clocks: `local_time` (tomorrow, so after the declaration's publication)."""

from __future__ import annotations

import datetime
import types
import uuid
import zoneinfo

import pytest
import time_machine

from confide.access.door import MESSAGING_SEND_JOB
from confide.messaging import quiet
from confide.messaging.models import Status
from confide.messaging.tasks import sweep
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.gate_support import FL_ADDRESS, codes, fresh, outbox_bodies, outbox_count, with_patient

LA, NY, CHICAGO = "America/Los_Angeles", "America/New_York", "America/Chicago"


def _at(zone: str, hour: int, minute: int = 0, days_ahead: int = 1):
    return local_time(hour, minute, zone=zone, days_ahead=days_ahead)


def _send_at(mw, when, **kwargs):
    with time_machine.travel(when, tick=False):
        return send(mw, **kwargs)


# --- the federal window, California ----------------------------------------------------------------
@pytest.mark.parametrize(("hour", "minute", "sends"), [(7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False)])
def test_federal_window_in_the_patients_own_time_california(mw, hour, minute, sends):
    message = _send_at(mw, _at(LA, hour, minute), body="Your forms are ready.")
    if sends:
        assert message.status == Status.QUEUED
        return
    assert (message.status, message.refusal_code) == (Status.DEFERRED, "quiet-hours")
    day = _at(LA, 0).date() + datetime.timedelta(days=0 if hour < 8 else 1)
    assert message.send_after == datetime.datetime.combine(day, datetime.time(8), tzinfo=zoneinfo.ZoneInfo(LA))


def test_a_deferral_across_midnight_lands_at_eight_next_morning_local(mw):
    late = _send_at(mw, _at(LA, 23, 30), body="Your forms are ready.")
    tomorrow_eight = datetime.datetime.combine(_at(LA, 0).date() + datetime.timedelta(days=1), datetime.time(8), tzinfo=zoneinfo.ZoneInfo(LA))
    assert late.send_after == tomorrow_eight
    after_midnight = _send_at(mw, _at(LA, 0, 30, days_ahead=2), body="Your forms are ready.")
    assert after_midnight.send_after == tomorrow_eight  # the same 08:00: it is that day now


# --- Florida and Oklahoma ----------------------------------------------------------------------------
def test_florida_address_waits_after_eight_pm_where_the_federal_window_allows(mw):
    florida = with_patient(mw, phone="+1 305 555 0100", address=FL_ADDRESS)
    new_york = with_patient(mw, phone="+1 212 555 0100", address={"state": "NY", "city": "New York", "lines": ["1 Broadway"], "postal_code": "10004", "country": "US"})
    when = _at(NY, 20, 0)
    held = _send_at(florida, when, body="Your forms are ready.")
    assert (held.status, held.refusal_code) == (Status.DEFERRED, "quiet-hours")
    assert held.send_after.astimezone(zoneinfo.ZoneInfo(NY)).time() == datetime.time(8)
    assert _send_at(new_york, when, body="Your forms are ready.").status == Status.QUEUED
    assert _send_at(florida, _at(NY, 19, 59), body="Your forms are ready.").status == Status.QUEUED


def test_an_oklahoma_number_with_no_address_takes_oklahoma_time_and_hours(mw):
    oklahoma = with_patient(mw, phone="+1 405 555 0100", address=None)
    assert _send_at(oklahoma, _at(CHICAGO, 19, 59), body="Your forms are ready.").status == Status.QUEUED
    held = _send_at(oklahoma, _at(CHICAGO, 20, 0), body="Your forms are ready.")
    assert (held.status, held.refusal_code) == (Status.DEFERRED, "quiet-hours")
    assert held.send_after.astimezone(zoneinfo.ZoneInfo(CHICAGO)).time() == datetime.time(8)
    assert _send_at(oklahoma, _at(CHICAGO, 7, 59), body="Your forms are ready.").status == Status.DEFERRED


def test_the_address_wins_over_the_area_code(mw):
    # A New York number, a California address: California's time decides.
    mover = with_patient(mw, phone="+1 212 555 0100")
    assert _send_at(mover, _at(LA, 18, 30), body="Your forms are ready.").status == Status.QUEUED  # 21:30 in New York
    assert _send_at(mover, _at(LA, 7, 30), body="Your forms are ready.").status == Status.DEFERRED  # 10:30 in New York
    assert quiet.locale_of({"state": "CA"}, "+1 212 555 0100").source == "address"
    assert quiet.locale_of(None, "+1 212 555 0100").zone == zoneinfo.ZoneInfo(NY)


def test_neither_address_nor_number_falls_back_to_the_practice_zone(settings):
    settings.TIME_ZONE = CHICAGO
    locale = quiet.locale_of({"state": ""}, "")
    assert (locale.source, locale.zone, locale.state) == ("practice", zoneinfo.ZoneInfo(CHICAGO), "")
    assert quiet.locale_of({"state": "Atlantis"}, "not a number").source == "practice"
    # A number abroad: its own zone, and the federal window there (no state's rule).
    abroad = quiet.locale_of(None, "+44 20 7946 0000")
    assert (abroad.source, abroad.zone, abroad.state) == ("phone", zoneinfo.ZoneInfo("Europe/London"), "")


# --- never deferred -------------------------------------------------------------------------------------
def test_security_notices_and_replies_the_patient_asked_for_are_never_deferred(mw):
    job = MESSAGING_SEND_JOB.for_practice(mw.practice_id)
    three_am = _at(LA, 3)
    for topic in ("security", "keyword_reply", "emergency_reply"):
        message = _send_at(mw, three_am, topic=topic, body="Call 911 if this is an emergency.", actor=job)
        assert message.status == Status.QUEUED, topic
        with time_machine.travel(three_am, tick=False):
            assert deliver_now(message) == "sent"


# --- deferred, then sent --------------------------------------------------------------------------------
def test_a_deferred_text_is_queued_and_sent_at_the_allowed_hour_not_dropped(mw):
    message = _send_at(mw, _at(LA, 22), body="Your forms are ready.")
    assert message.status == Status.DEFERRED
    assert codes(message, "messaging:message:deferred") == ["quiet-hours"]
    with time_machine.travel(_at(LA, 22, 5), tick=False):
        assert deliver_now(message) == "not-due"
        assert sweep() == 0
    with time_machine.travel(message.send_after, tick=False):
        assert sweep() == 1
    assert fresh(message).status == Status.SENT
    assert outbox_count(message) == 1
    assert len(outbox_bodies(mw)) == 1


def test_a_queued_text_delivered_after_nine_pm_is_deferred_by_the_final_gate(mw):
    message = _send_at(mw, _at(LA, 20, 59), body="Your forms are ready.")
    assert message.status == Status.QUEUED
    with time_machine.travel(_at(LA, 21, 1), tick=False):
        assert deliver_now(message) == "deferred"
    assert fresh(message).status == Status.DEFERRED
    with time_machine.travel(_at(LA, 8, 0, days_ahead=2), tick=False):
        assert deliver_now(message) == "sent"


# --- the subject cap (Florida, Oklahoma) ----------------------------------------------------------------
def _sent_on_subject(who, when, subject="appointment-42"):
    message = _send_at(who, when, body="About your appointment.", subject_key=subject)
    with time_machine.travel(when, tick=False):
        assert deliver_now(message) == "sent"
    return message


def test_florida_fourth_text_on_one_subject_waits_until_the_oldest_is_a_day_old(mw):
    florida = with_patient(mw, phone="+1 305 555 0100", address=FL_ADDRESS)
    for hour in (9, 10, 11):
        _sent_on_subject(florida, _at(NY, hour))
    fourth = _send_at(florida, _at(NY, 12), body="About your appointment.", subject_key="appointment-42")
    assert (fourth.status, fourth.refusal_code) == (Status.DEFERRED, "subject-cap")
    assert fourth.send_after == _at(NY, 9, days_ahead=2)
    # Another subject, and the same subject for a Californian, are not capped.
    assert _send_at(florida, _at(NY, 12), body="Your bill.", subject_key="bill-7").status == Status.QUEUED
    for hour in (9, 10, 11):
        _sent_on_subject(mw, _at(LA, hour))
    assert _send_at(mw, _at(LA, 12), body="About your appointment.", subject_key="appointment-42").status == Status.QUEUED
    with time_machine.travel(fourth.send_after, tick=False):
        assert sweep() >= 1
    assert fresh(fourth).status == Status.SENT


def test_the_subject_cap_counts_when_texts_were_sent_not_written(mw):
    florida = with_patient(mw, phone="+1 305 555 0100", address=FL_ADDRESS)
    # Written at 21:00 the day before, deferred, sent at 08:00: they count from 08:00.
    held = [_send_at(florida, _at(NY, 21), body="About your appointment.", subject_key="appointment-42") for _ in range(3)]
    assert all(m.status == Status.DEFERRED for m in held)
    with time_machine.travel(_at(NY, 8, days_ahead=2), tick=False):
        assert sweep() == 3
    fourth = _send_at(florida, _at(NY, 21, 30, days_ahead=2) - datetime.timedelta(hours=2), body="About it.", subject_key="appointment-42")
    assert fourth.refusal_code == "subject-cap"  # 19:30: three sent since 08:00 (written 22½ hours ago)
    assert fourth.send_after == _at(NY, 8, days_ahead=3)


def test_the_subject_cap_across_the_spring_forward_night_lands_inside_the_window():
    """Sent 19:30 EST the evening before the clocks go forward: 24 hours later is 20:30 EDT,
    after Florida's window, so the fourth waits to 08:00 the morning after (pure function)."""
    ny = zoneinfo.ZoneInfo(NY)
    saturday = datetime.datetime(2027, 3, 13, 19, 30, tzinfo=ny)  # the clocks go forward on 14 March 2027
    out = types.SimpleNamespace(practice_id=uuid.uuid4(), patient_id=uuid.uuid4(), message_id=None, channel="sms",
                                address={"state": "FL"}, to="+1 305 555 0100", subject_key="s")  # fmt: skip
    original = quiet.sent_times
    quiet.sent_times = lambda *a, **k: [saturday, saturday + datetime.timedelta(minutes=1), saturday + datetime.timedelta(minutes=2)]
    try:
        until, code, _ = quiet.next_allowed(out, datetime.datetime(2027, 3, 14, 10, 0, tzinfo=ny))
    finally:
        quiet.sent_times = original
    assert code == "subject-cap"
    assert until == datetime.datetime(2027, 3, 15, 8, 0, tzinfo=ny)
    assert until.utcoffset() == datetime.timedelta(hours=-4)


# --- daylight saving time --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        # Spring forward (LA, 14 March 2027, 02:00 → 03:00): 01:30 PST waits to 08:00 PDT the same day.
        (datetime.datetime(2027, 3, 14, 1, 30), datetime.datetime(2027, 3, 14, 8, 0)),
        # Fall back (LA, 7 November 2027, 02:00 → 01:00): 01:30 (either one) waits to 08:00 PST.
        (datetime.datetime(2027, 11, 7, 1, 30), datetime.datetime(2027, 11, 7, 8, 0)),
        (datetime.datetime(2027, 11, 7, 1, 30, fold=1), datetime.datetime(2027, 11, 7, 8, 0)),
        # 21:30 on the evening before each change: 08:00 the next day, in that day's offset.
        (datetime.datetime(2027, 3, 13, 21, 30), datetime.datetime(2027, 3, 14, 8, 0)),
        (datetime.datetime(2027, 11, 6, 21, 30), datetime.datetime(2027, 11, 7, 8, 0)),
    ],
)
def test_dst_changes_defer_to_eight_in_that_days_offset(local, expected):
    tz = zoneinfo.ZoneInfo(LA)
    out = types.SimpleNamespace(practice_id=uuid.uuid4(), patient_id=uuid.uuid4(), message_id=None, channel="sms",
                                address={"state": "CA"}, to="", subject_key="")  # fmt: skip
    now = local.replace(tzinfo=tz).astimezone(datetime.UTC)
    until, code, _ = quiet.next_allowed(out, now)
    assert code == "quiet-hours"
    assert until == expected.replace(tzinfo=tz)
    assert until.utcoffset() == expected.replace(tzinfo=tz).utcoffset()
    assert until.astimezone(tz).time() == datetime.time(8)
    assert until > now


def test_a_deferred_text_is_queued_as_a_task_that_runs_at_the_allowed_hour(mw, django_capture_on_commit_callbacks):
    """Composing at 22:00 queues the delivery task to run at 08:00 (not now, not never); the
    final gate deferring a queued text queues it again for its new time."""
    from django_tasks_db.models import DBTaskResult

    def tasks_for(message):
        return [t.run_after for t in DBTaskResult.objects.all() if t.args_kwargs["args"][:1] == [str(message.pk)]]

    with django_capture_on_commit_callbacks(execute=True):
        held = _send_at(mw, _at(LA, 22), body="Your forms are ready.")
    assert tasks_for(held) == [held.send_after]
    with django_capture_on_commit_callbacks(execute=True):
        queued = _send_at(mw, _at(LA, 20, 59), body="Your forms are ready.")
    with time_machine.travel(_at(LA, 21, 1), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert deliver_now(queued) == "deferred"
    assert fresh(queued).send_after in tasks_for(queued)
    assert fresh(queued).send_after == _at(LA, 8, days_ahead=2)
