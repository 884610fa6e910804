"""The gate's order (kind → consent → opt-out → quiet hours → content → egress → rate): the first
step that says no is the answer, and a refusal is never postponed as a deferral."""

from __future__ import annotations

import time_machine
from django.utils import timezone

from confide.core.tenancy import tenant_context
from confide.messaging.addresses import phone_blind
from confide.messaging.models import PhoneOptOut, Status
from tests.messaging.conftest import local_time, send
from tests.messaging.gate_support import with_patient

NIGHT = local_time(23)


def test_no_consent_and_opted_out_is_refused_for_consent_first_CON1(mw):
    nobody = with_patient(mw, consent=())
    with tenant_context(practice_id=mw.practice_id):
        PhoneOptOut.objects.create(practice_id=mw.practice_id, phone_blind=phone_blind(mw.practice_id, "+1 415 555 0142"),
                                   source="keyword", changed_at=timezone.now())  # fmt: skip
    with time_machine.travel(NIGHT, tick=False):
        assert send(nobody, body="Hello.").refusal_code == "consent-sms"
        assert send(mw, body="Hello.").refusal_code == "opted-out"  # refused at night, not held till morning


def test_a_text_that_can_never_go_is_refused_at_night_not_deferred_MSG4(mw):
    with time_machine.travel(NIGHT, tick=False):
        card = send(mw, body="Your card 4111 1111 1111 1111 was declined.")
        ordinary = send(mw, body="Your forms are ready.")
    assert (card.status, card.refusal_code) == (Status.REFUSED, "content-payment")
    assert (ordinary.status, ordinary.refusal_code) == (Status.DEFERRED, "quiet-hours")
