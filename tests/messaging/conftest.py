"""The messaging test world: practice A with the SMS processor declared in use with a BAA (as
the demo declares its console outbox), a patient who agreed to texts (Marisol, in California),
and helpers to send as the front desk and to run the delivery.

    mw = messaging_world(world.a)
    message = send(mw, channel="sms", body="See you at 3")
    deliver_now(message)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.consent.helpers import by_phone
from tests.portal_world import create_patient

SMS_DECLARED = '[[processors]]\nid = "sms"\nbaa_on_file = true\nin_use = true\n\n[[processors]]\nid = "email"\nbaa_on_file = true\n'


@dataclass
class MessagingWorld:
    pw: object  # the PracticeWorld
    patient: object  # agreed to texts (sms_texts), lives in California
    front_desk: StaffActor

    @property
    def practice_id(self):
        return self.pw.practice.id


def declare_processors(pw, toml: str = SMS_DECLARED) -> None:
    """A new processor is a material change: published as the officer would have, 30 days ago."""
    from tests.policy.helpers import publish_in_force

    publish_in_force(actor=StaffActor.from_membership(pw.memberships[Role.PRIVACY_OFFICER]), override_toml=toml,
                     summary="Texts through the declared SMS processor.")


def messaging_world(pw, *, consent: bool = True, **patient_fields) -> MessagingWorld:
    declare_processors(pw)
    fields = {"phone": "+1 415 555 0142", "address": {"lines": ["1 Main St"], "city": "San Francisco", "state": "CA", "postal_code": "94105", "country": "US"}}
    patient = create_patient(pw, **(fields | patient_fields))
    if consent:
        by_phone(pw, patient.id, "sms_texts")
    return MessagingWorld(pw=pw, patient=patient, front_desk=StaffActor.from_membership(pw.memberships[Role.FRONT_DESK]))


@pytest.fixture
def mw(world) -> MessagingWorld:
    return messaging_world(world.a)


def send(mw: MessagingWorld, *, channel: str = "sms", body: str = "See you at 3 tomorrow.", topic: str = "staff_reply", actor=None, **kwargs):
    from confide.messaging.services import send_message

    with tenant_context(practice_id=mw.practice_id):
        return send_message(actor or mw.front_desk, patient_id=mw.patient.id, channel=channel, topic=topic, body=body, **kwargs)


def deliver_now(message, **kwargs) -> str:
    from confide.messaging.tasks import deliver

    return deliver(message.pk, message.practice_id, **kwargs)


def local_time(hour: int, minute: int = 0, *, zone: str = "America/Los_Angeles", days_ahead: int = 1):
    """An aware datetime `days_ahead` days from now at `hour:minute` in `zone`: fixed clocks for
    quiet-hours tests that stay after the declaration's publication (real now) whatever the date
    the suite runs on. Use with `time_machine.travel(local_time(11), tick=False)`."""
    import datetime
    import zoneinfo

    from django.utils import timezone as dj_timezone

    tz = zoneinfo.ZoneInfo(zone)
    day = dj_timezone.now().astimezone(tz).date() + datetime.timedelta(days=days_ahead)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)
