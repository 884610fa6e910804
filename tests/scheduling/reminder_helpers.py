"""The reminders' test world: the scheduling world (practice A in America/New_York) whose patient
has a San Francisco number (+1 415: America/Los_Angeles for quiet hours, by the number's area
code: the reminder job never reads the postal address), agreed to texts, with the SMS and e-mail
processors declared in use."""

from __future__ import annotations

import datetime

import time_machine

from confide.core.tenancy import tenant_context
from tests.consent.helpers import by_phone
from tests.messaging.conftest import declare_processors
from tests.scheduling.world import scheduling_world

PATIENT_NUMBER = "+14155550142"


def reminder_world(pw, *, texts: bool = True, **patient_fields):
    declare_processors(pw)
    sw = scheduling_world(pw, **({"phone": "+1 415 555 0142"} | patient_fields))
    if texts:
        by_phone(pw, sw.patient.id, "sms_texts")
    return sw


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)


def sweep_at(sw, instant: datetime.datetime) -> int:
    from confide.scheduling.reminders import sweep

    with time_machine.travel(instant, tick=False):
        return sweep(now=instant)


def reminders_of(sw, appointment):
    from confide.scheduling.models import Reminder

    with tenant_context(practice_id=sw.practice_id):
        return list(Reminder.objects.filter(appointment_id=appointment.pk).order_by("due_at", "created_at"))


def message_of(sw, reminder):
    from confide.messaging.models import Message

    with tenant_context(practice_id=sw.practice_id):
        return Message.objects.get(pk=reminder.message_id)


def body_of(sw, message) -> str:
    """The sealed body, read as the messaging job would (inside its opening)."""
    from confide.access.door import MESSAGING_SEND_JOB, open_chart
    from confide.core.purposes import Purpose
    from confide.messaging.models import Message

    with tenant_context(practice_id=sw.practice_id):
        with open_chart(MESSAGING_SEND_JOB.for_practice(sw.practice_id), message.patient_id, Purpose.OPERATIONS,
                        categories={"communications.messages"}):  # fmt: skip
            return Message.objects.get(pk=message.pk).body


def text_in(sw, body: str, instant: datetime.datetime, *, sid: str):
    from confide.messaging.inbound import handle_sms

    with time_machine.travel(instant, tick=False):
        return handle_sms(practice_id=sw.practice_id, sid=sid, from_number=PATIENT_NUMBER, body=body)
