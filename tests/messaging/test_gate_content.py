"""The send gate, step 5: content (MSG4). No photos and no payment details by SMS or e-mail; the
body itself only to a patient who asked for details by that channel (phi_by_sms, phi_by_email),
else the notice to sign in; bodies checked for length and characters before anything is written."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail

from confide.audit.models import AuditEntry
from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from confide.messaging.gate import payment_details
from confide.messaging.models import Channel, Message, Status
from confide.messaging.services import clean_body
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.gate_support import DETAILS_BY_EMAIL, grant, outbox_bodies, with_patient, world_declaring

ELEVEN = local_time(11)
NOTICE = "You have a new secure message from {}. Sign in to the patient portal to read it."
# The e-mail notice says the same and adds the portal's address (messaging/templates/messaging/email/notice.txt).
EMAIL_NOTICE = "You have a new secure message from {}. Sign in to the patient portal to read it"


# --- photos and payment details ----------------------------------------------------------------
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_photos_never_go_by_text_or_e_mail_MSG4(mw, channel):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, channel=channel, body="Here is the photo of your rash.", has_photo=True)
    assert (message.status, message.refusal_code) == (Status.REFUSED, "content-photo")


def test_a_photo_goes_in_the_portal_MSG4(mw):
    assert send(mw, channel="portal", body="Here is the photo.", has_photo=True).status == Status.DELIVERED


@pytest.mark.parametrize(
    "body",
    [
        "Your card 4111 1111 1111 1111 was declined.",
        "Card 4111-1111-1111-1111, please check.",
        "Charged to 5500000000000004 today.",
        "Card 3782 822463 10005 (Amex) on file.",
        "Use 4111 1111 1111 1111 12 28 again",  # the expiry after the number
        "Please send the CVV 123 again.",
        "Your card's security code: 4567",
    ],
)
def test_payment_details_are_recognised_MSG4(body):
    assert payment_details(body)


@pytest.mark.parametrize(
    "body",
    [
        "Call us at +1 (415) 555-0142 or 1-800-555-0199.",
        "Your visit is on 2026-12-06 at 10:30, room 12.",
        "Your visit is on 12/06/2026.",
        "Reference 1234 5678 9012 3456 is your claim number.",  # 16 digits failing the Luhn check
        "Your balance is $120.00; pay in the portal.",
        "Your card is on file.",
    ],
)
def test_ordinary_numbers_are_not_payment_details_MSG4(body):
    assert not payment_details(body)


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_payment_details_never_go_by_text_or_e_mail_MSG4(mw, channel):
    with time_machine.travel(ELEVEN, tick=False):
        card = send(mw, channel=channel, body="Your card 4111 1111 1111 1111 was declined.")
        cvv = send(mw, channel=channel, body="Please confirm the CVV 123.")
        phone = send(mw, channel=channel, body="Call us at (415) 555-0142 about 2026-12-06.")
    assert (card.refusal_code, cvv.refusal_code) == ("content-payment", "content-payment")
    assert phone.status == Status.QUEUED


# --- body or notice -------------------------------------------------------------------------------
def test_a_text_carries_only_the_notice_without_consent_to_details_by_text_MSG4(mw):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your biopsy result is benign.")
        assert deliver_now(message) == "sent"
    assert outbox_bodies(mw) == [NOTICE.format(mw.pw.practice.name)]
    with tenant_context(practice_id=mw.practice_id):
        assert Message.objects.get(pk=message.pk).carried == "notice"


def test_a_text_carries_the_body_to_a_patient_who_asked_for_details_by_text_MSG4(mw):
    grant(mw, "phi_by_sms")
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="Your biopsy result is benign.")
        assert deliver_now(message) == "sent"
    assert outbox_bodies(mw) == ["Your biopsy result is benign."]


def test_a_staff_message_labelled_as_a_reminder_still_needs_consent_to_details_MSG4(mw):
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, topic="reminder", body="Bring your insulin log to the endocrinology visit.")
        assert deliver_now(message) == "sent"
    assert outbox_bodies(mw) == [NOTICE.format(mw.pw.practice.name)]


def test_e_mail_carries_the_body_only_to_a_patient_who_asked_for_details_by_e_mail_MSG4(world):
    mw = world_declaring(world.b, DETAILS_BY_EMAIL, consent=(), email="ana@example.test")
    other = with_patient(mw, consent=("phi_by_email",), email="ben@example.test")
    mail.outbox.clear()
    with time_machine.travel(ELEVEN, tick=False):
        for who in (mw, other):
            assert deliver_now(send(who, channel="email", body="Your biopsy result is benign.")) == "sent"
    (to_ana, notice), (to_ben, body) = [(m.to, m.body) for m in mail.outbox]
    assert to_ana == ["ana@example.test"] and notice.startswith(EMAIL_NOTICE.format(world.b.practice.name)) and "biopsy" not in notice
    assert to_ben == ["ben@example.test"] and body.startswith("Your biopsy result is benign.\n")


# --- length and characters -------------------------------------------------------------------------
def test_non_gsm_characters_are_sent_as_written(mw):
    grant(mw, "phi_by_sms")
    body = "Olá Zoë, até amanhã às 15h — señor Müller 😀"
    with time_machine.travel(ELEVEN, tick=False):
        assert deliver_now(send(mw, body=body)) == "sent"
    assert outbox_bodies(mw) == [body]


def test_sms_length_is_1600_as_the_carrier_counts_it():
    assert clean_body("é" * 1600, Channel.SMS) == "é" * 1600
    assert clean_body("😀" * 800, Channel.SMS) == "😀" * 800  # two UTF-16 units each
    for too_long in ("a" * 1601, "😀" * 801):
        with pytest.raises(InvalidInput, match="at most 1,600 characters"):
            clean_body(too_long, Channel.SMS)


@pytest.mark.parametrize(("channel", "body"), [("sms", ""), ("sms", "   \n "), ("sms", "x" * 10_240), ("portal", "x" * 10_240),
                                               ("email", None), ("sms", "bell\x07")])  # fmt: skip
def test_empty_long_or_control_bodies_are_refused_and_nothing_is_written(mw, channel, body):
    with tenant_context(practice_id=mw.practice_id):
        before = (Message.objects.count(), AuditEntry.objects.filter(practice_id=mw.practice_id, event__startswith="messaging:").count())
    with pytest.raises(InvalidInput) as caught:
        send(mw, channel=channel, body=body)
    assert str(caught.value)  # a sentence for the person who wrote it
    with tenant_context(practice_id=mw.practice_id):
        after = (Message.objects.count(), AuditEntry.objects.filter(practice_id=mw.practice_id, event__startswith="messaging:").count())
    assert after == before
