"""E-mail: what a message's e-mail says (`compose`), and the adapter that hands it to Django's
configured backend (a file outbox by default, SMTP in production).

    compose(message, to=…, text=…, carried=…, practice_name=…) -> OutboundEmail

Three e-mails, each an HTML and a plain-text template (templates/messaging/email/):
- `message`  — a staff reply carrying its body, only when the gate said the body may travel
  (the patient consented to health information by e-mail, phi_by_email: MSG4);
- `notice`   — "You have a new secure message from <practice>, sign in to read it", with the
  portal's address from CONFIDE_BASE_URL, for everything the patient has not asked to get by
  e-mail (the body stays in the portal thread);
- `campaign` — a newsletter or offer (practice-written text), with the visible unsubscribe link
  and RFC 8058's `List-Unsubscribe` / `List-Unsubscribe-Post` headers (messaging/unsubscribe.py).
Subject lines never carry PHI: they name the practice and the kind of e-mail, nothing else (a
campaign's subject is the practice's own text). The Message-ID is made from the message's
idempotency key, so a resend after a crash is the same message to the receiving side.

SMTP errors become `ProviderError`s: a 4xx reply, a refused or dropped connection, a timeout are
retryable; a 5xx reply (or a message Django cannot build) is not.
"""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from confide.messaging.adapters.base import OutboundEmail, ProviderError, SendResult

logger = logging.getLogger(__name__)

TEMPLATES = "messaging/email/"


def _base_url() -> str:
    return (getattr(settings, "CONFIDE_BASE_URL", "") or "").rstrip("/")


def message_id_for(idempotency_key: str) -> str:
    """`<key@host>`: the same for every attempt at one message (RFC 5322 §3.6.4)."""
    host = urlsplit(_base_url()).hostname or "confide.invalid"
    return f"<{idempotency_key}@{host}>"


def portal_url() -> str:
    from django.urls import reverse

    return f"{_base_url()}{reverse('portal:home')}"


def compose(message, *, to: str, text: str, carried: str, practice_name: str, campaign=None) -> OutboundEmail:
    """The e-mail for one outbound message. `text` is what the gate let travel (the body, or the
    notice); `campaign` (a Campaign) for a marketing message."""
    from confide.messaging.models import Kind

    context = {"practice_name": practice_name, "portal_url": portal_url(), "text": text}
    headers: list[tuple[str, str]] = [("Message-ID", message_id_for(message.idempotency_key))]
    if message.kind == Kind.MARKETING:
        from confide.messaging.unsubscribe import unsubscribe_url

        link = unsubscribe_url(message.practice_id, message.patient_id, to)
        context["unsubscribe_url"] = link
        headers += [("List-Unsubscribe", f"<{link}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
        name = "campaign"
        subject = (getattr(campaign, "subject", "") or f"News from {practice_name}").strip()
    elif carried == "body":
        name, subject = "message", f"A message from {practice_name}"
    else:
        name, subject = "notice", f"You have a new secure message from {practice_name}"
    return OutboundEmail(
        practice_id=message.practice_id, message_id=message.pk, patient_id=message.patient_id, to=to,
        subject=" ".join(subject.split())[:150],
        text=render_to_string(f"{TEMPLATES}{name}.txt", context),
        html=render_to_string(f"{TEMPLATES}{name}.html", context),
        kind=message.kind, idempotency_key=message.idempotency_key, headers=tuple(headers),
    )  # fmt: skip


def _smtp_code(exc: Exception) -> int | None:
    code = getattr(exc, "smtp_code", None)
    if code is None and isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code = max(int(reply[0]) for reply in exc.recipients.values())  # a 5xx for anyone is final
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def provider_error(exc: Exception) -> ProviderError:
    """An exception from Django's mail backend as the port's error (module docstring)."""
    code = _smtp_code(exc)
    if code is not None:
        return ProviderError(str(code), "the mail server did not accept the message", retryable=400 <= code < 500)
    if isinstance(exc, (ValueError, UnicodeError)):  # a header Django refuses to build: trying again changes nothing
        return ProviderError("invalid", "the e-mail could not be built", retryable=False)
    return ProviderError(type(exc).__name__[:16], "the mail server could not be reached", retryable=True)


class DjangoEmailAdapter:
    name = "email"
    processor_id = "email"
    can_lookup = False  # SMTP cannot be asked what it already accepted

    def send(self, mail: OutboundEmail) -> SendResult:
        headers = dict(mail.headers)
        message_id = headers.get("Message-ID") or message_id_for(mail.idempotency_key)
        headers["Message-ID"] = message_id
        email = EmailMultiAlternatives(subject=mail.subject, body=mail.text, to=[mail.to], headers=headers)
        if mail.html:
            email.attach_alternative(mail.html, "text/html")
        try:
            email.send(fail_silently=False)
        except (OSError, ValueError, smtplib.SMTPException) as exc:  # smtplib's errors are OSErrors
            error = provider_error(exc)
            logger.warning("email %s not accepted: %s (retryable=%s)", mail.message_id, error.code, error.retryable)
            raise error from None
        logger.info("email sent", extra={"message_id": str(mail.message_id)})
        return SendResult(provider_ref=message_id.strip("<>")[:64], status="sent")

    def lookup(self, idempotency_key: str) -> SendResult | None:
        return None
