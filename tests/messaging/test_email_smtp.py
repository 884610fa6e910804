"""E-mail through Django's SMTP backend to a real SMTP server on loopback (aiosmtpd): headers,
MIME parts, no PHI in subjects, and SMTP errors as the port's ProviderError (MSG4, MSG3)."""

from __future__ import annotations

import pytest

from confide.core.tenancy import tenant_context
from confide.messaging.adapters.email import DjangoEmailAdapter, compose, message_id_for
from confide.messaging.models import Delivery, Message, Status
from tests.conftest import CANARIES
from tests.messaging.conftest import deliver_now, send
from tests.messaging.email_helpers import email_world, free_port, smtp_server, smtp_settings

BODY = "Your results are in: canary-diagnosis-xyzzy. Call us."


@pytest.fixture
def ew(world):
    return email_world(world.a, email=CANARIES["email"], given_name="Zebulon", family_name="Canarywood")


def _parts(mail) -> dict:
    return {part.get_content_type(): part.get_content() for part in mail.walk() if not part.is_multipart()}


def test_reply_with_phi_by_email_consent_carries_the_body_multipart_MSG4(ew, settings):
    from tests.consent.helpers import by_phone

    by_phone(ew.pw, ew.patient.id, "phi_by_email")
    message = send(ew, channel="email", body=BODY)
    with smtp_server() as smtp, smtp_settings(smtp):
        assert deliver_now(message) == "sent"
    [mail] = smtp.messages
    assert mail.get_content_type() == "multipart/alternative"
    parts = _parts(mail)
    assert set(parts) == {"text/plain", "text/html"}
    assert "canary-diagnosis-xyzzy" in parts["text/plain"] and "canary-diagnosis-xyzzy" in parts["text/html"]
    assert mail["To"] == CANARIES["email"]
    assert mail["From"] == settings.DEFAULT_FROM_EMAIL
    assert mail["Message-ID"] == message_id_for(message.idempotency_key)
    assert mail["Subject"] == f"A message from {ew.pw.practice.name}"
    for canary in (CANARIES["note"], "Zebulon", "Canarywood", CANARIES["email"]):
        assert canary not in mail["Subject"]
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None  # operational: no unsubscribe
    with tenant_context(practice_id=ew.practice_id):
        assert Message.objects.get(pk=message.pk).carried == "body"
        assert Delivery.objects.get(message=message).provider_ref == message_id_for(message.idempotency_key).strip("<>")


def test_reply_without_consent_is_the_sign_in_notice_with_the_portal_link_MSG4(ew, settings):
    message = send(ew, channel="email", body=BODY)
    with smtp_server() as smtp, smtp_settings(smtp):
        assert deliver_now(message) == "sent"
    [mail] = smtp.messages
    parts = _parts(mail)
    practice = ew.pw.practice.name
    assert f"You have a new secure message from {practice}" in parts["text/plain"]
    assert f"{settings.CONFIDE_BASE_URL}/portal/" in parts["text/plain"] and f'href="{settings.CONFIDE_BASE_URL}/portal/"' in parts["text/html"]
    raw = mail.as_string()
    assert "canary-diagnosis-xyzzy" not in raw and "Zebulon" not in raw
    assert mail["Subject"] == f"You have a new secure message from {practice}"


def test_marketing_email_has_one_click_unsubscribe_headers_and_a_visible_link_MSG3(ew, settings):
    from confide.access.door import MESSAGING_SEND_JOB
    from tests.consent.helpers import by_phone

    by_phone(ew.pw, ew.patient.id, "marketing_email")
    job = MESSAGING_SEND_JOB.for_practice(ew.practice_id)
    message = send(ew, channel="email", topic="campaign", body="Flu shots are here. Walk in any morning.", actor=job)
    assert message.status == Status.QUEUED
    with smtp_server() as smtp, smtp_settings(smtp):
        assert deliver_now(message) == "sent"
    [mail] = smtp.messages
    link = str(mail["List-Unsubscribe"]).strip()  # folded after the colon: a long URL
    assert link.startswith(f"<{settings.CONFIDE_BASE_URL}/u/") and link.endswith("/>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = link[1:-1]
    parts = _parts(mail)
    assert url in parts["text/plain"] and f'href="{url}"' in parts["text/html"]
    assert "Zebulon" not in url and CANARIES["email"] not in url
    assert mail["Subject"] == f"News from {ew.pw.practice.name}"


def _mail(ew):
    message = send(ew, channel="email", body="See you at 3 tomorrow.")
    with tenant_context(practice_id=ew.practice_id):
        message = Message.objects.get(pk=message.pk)
    return compose(message, to=CANARIES["email"], text="See you", carried="notice", practice_name="Practice")


@pytest.mark.parametrize(
    ("where", "reply", "code", "retryable"),
    [
        ("rcpt", "550 5.1.1 No such user here", "550", False),
        ("rcpt", "451 4.3.0 Try again later", "451", True),
        ("data", "554 5.7.1 Rejected as spam", "554", False),
        ("data", "452 4.3.1 Insufficient storage", "452", True),
    ],
)
def test_smtp_replies_map_to_provider_errors_4xx_retry_5xx_final(ew, where, reply, code, retryable):
    from confide.messaging.adapters import ProviderError

    mail = _mail(ew)
    with smtp_server() as smtp, smtp_settings(smtp):
        setattr(smtp, f"{where}_reply", reply)
        with pytest.raises(ProviderError) as caught:
            DjangoEmailAdapter().send(mail)
    assert caught.value.code == code
    assert caught.value.retryable is retryable
    assert CANARIES["email"] not in str(caught.value)


def test_connection_refused_is_retryable(ew):
    from confide.messaging.adapters import ProviderError

    mail = _mail(ew)
    with smtp_settings(port=free_port()), pytest.raises(ProviderError) as caught:  # nobody listens there
        DjangoEmailAdapter().send(mail)
    assert caught.value.retryable is True


def test_delivery_after_a_5xx_fails_and_after_a_4xx_retries(ew):
    first = send(ew, channel="email", body="See you at 3 tomorrow.")
    second = send(ew, channel="email", body="See you at 4 tomorrow.")
    with smtp_server() as smtp, smtp_settings(smtp):
        smtp.rcpt_reply = "550 5.1.1 No such user here"
        assert deliver_now(first) == "failed"
        smtp.rcpt_reply = "421 4.7.0 Try again later"
        assert deliver_now(second) == "retry"
    with tenant_context(practice_id=ew.practice_id):
        failed, retried = Message.objects.get(pk=first.pk), Message.objects.get(pk=second.pk)
    assert failed.status == Status.FAILED and failed.refusal_code == "provider-550"
    assert retried.status == Status.QUEUED and retried.send_after is not None
