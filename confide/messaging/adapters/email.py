"""The e-mail adapter: Django's configured backend (a file outbox by default, SMTP in
production), one message per call, its Message-ID made from the idempotency key so a repeat
after a crash is recognisable as the same message by the receiving side."""

from __future__ import annotations

import logging

from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid

from confide.messaging.adapters.base import OutboundEmail, ProviderError, SendResult

logger = logging.getLogger(__name__)


class DjangoEmailAdapter:
    name = "email"
    processor_id = "email"
    can_lookup = False  # SMTP cannot be asked what it already accepted

    def send(self, mail: OutboundEmail) -> SendResult:
        message_id = make_msgid(idstring=mail.idempotency_key, domain="confide.local")
        email = EmailMultiAlternatives(subject=mail.subject, body=mail.text, to=[mail.to],
                                       headers={"Message-ID": message_id, **dict(mail.headers)})  # fmt: skip
        if mail.html:
            email.attach_alternative(mail.html, "text/html")
        try:
            email.send(fail_silently=False)
        except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
            code = getattr(exc, "smtp_code", None)
            retryable = code is None or 400 <= int(code) < 500
            raise ProviderError(str(code or type(exc).__name__), "the mail server did not accept the message", retryable=retryable) from None
        logger.info("email sent", extra={"message_id": str(mail.message_id)})
        return SendResult(provider_ref=message_id.strip("<>")[:64], status="sent")

    def lookup(self, idempotency_key: str) -> SendResult | None:
        return None
