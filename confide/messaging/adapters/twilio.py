"""The Twilio SMS adapter: one `Messages.create` per send through the official SDK.

    TwilioSMSAdapter().send(OutboundSMS(...)) -> SendResult(MessageSid, status)
    TwilioSMSAdapter().lookup(idempotency_key) -> SendResult | None

Settings: CONFIDE_TWILIO_ACCOUNT_SID and _AUTH_TOKEN (HTTP basic auth), the sender as
CONFIDE_TWILIO_MESSAGING_SERVICE_SID (preferred) or CONFIDE_TWILIO_FROM, CONFIDE_TWILIO_API_BASE
(the SDK's `api` domain base URL; tests point it at a Twilio-shaped server on loopback) and
CONFIDE_TWILIO_TIMEOUT_SECONDS (connect and read timeout of each request).

Errors, as the delivery task needs them (tasks.py, step 5): Twilio's 4xx refusals carry Twilio's
error code (21211 invalid number, 21610 unsubscribed recipient, …) and are final, except 429
(too many requests); 5xx, timeouts and connection errors are retryable. 21610 also records the
number's opt-out (source: provider), so the gate stops the next text before it reaches Twilio.

`lookup`: Twilio has no idempotency key on Messages.create and keeps no field of ours on the
message (the StatusCallback URL is not returned by the API). The honest question we can ask is
"is there an outbound message to this number, from our sender, created since this message was
queued, whose body is exactly the text this message carries, and that no other delivery has
claimed?" — answered by listing the number's recent messages. It can be wrong in one way: two of
our messages with the same text to the same number, both interrupted, may be taken for each
other (one of them is then recorded as sent once). Anything that does not match exactly (Twilio
appending an opt-out footer, a body Twilio has already redacted under a retention setting) answers
None and the text is sent again: at least once, never silently lost. docs/architecture.md.

Nothing here logs a number or a body: the SDK's request logger (which writes query strings, and
a lookup's query string holds the number) is given a logger that drops INFO, and urllib3's DEBUG
request line for a Messages query is filtered out.
"""

from __future__ import annotations

import datetime
import logging

import requests
from django.conf import settings
from django.utils import timezone

from confide.messaging.adapters.base import OutboundSMS, ProviderError, SendResult

logger = logging.getLogger(__name__)

# The SDK's HTTP client logs each request's URL, query string and headers at INFO: never ours.
_sdk_logger = logging.getLogger("confide.messaging.adapters.twilio.sdk")
_sdk_logger.setLevel(logging.WARNING)


class _NoMessageQueries(logging.Filter):
    """urllib3 logs each request line at DEBUG, query string included: a lookup's holds the
    number (To=…). Those lines are dropped whatever the logging configuration."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(isinstance(arg, str) and "/Messages.json?" in arg for arg in (record.args or ()))


logging.getLogger("urllib3.connectionpool").addFilter(_NoMessageQueries())

DEFAULT_TIMEOUT = 10.0
OPTED_OUT = "21610"  # "Attempt to send to unsubscribed recipient"
# Twilio's message statuses → ours (messaging.models.Status values).
STATUS = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "undelivered": "undelivered", "failed": "failed", "read": "delivered",
}  # fmt: skip
# How far before the message's queueing a Twilio clock may disagree with ours and still match.
CLOCK_SKEW = datetime.timedelta(minutes=5)
LOOKUP_PAGE = 50


class TwilioSMSAdapter:
    name = "twilio"
    processor_id = "sms"
    can_lookup = True

    def __init__(self, client=None):
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            sid, token = settings.CONFIDE_TWILIO_ACCOUNT_SID, settings.CONFIDE_TWILIO_AUTH_TOKEN
            if not sid or not token:
                raise ProviderError("config", "Twilio is not configured (CONFIDE_TWILIO_ACCOUNT_SID, _AUTH_TOKEN).", retryable=False)
            timeout = float(getattr(settings, "CONFIDE_TWILIO_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
            client = Client(sid, token, http_client=TwilioHttpClient(timeout=timeout, logger=_sdk_logger))
            # The SDK builds every Messages URL from the `api` domain's base URL (twilio/base/domain.py).
            client.api.base_url = getattr(settings, "CONFIDE_TWILIO_API_BASE", "") or "https://api.twilio.com"
            self._client = client
        return self._client

    def _sender(self) -> dict:
        service = getattr(settings, "CONFIDE_TWILIO_MESSAGING_SERVICE_SID", "")
        number = getattr(settings, "CONFIDE_TWILIO_FROM", "")
        if service:
            return {"messaging_service_sid": service}
        if number:
            return {"from_": number}
        raise ProviderError("config", "Twilio has no sender: set CONFIDE_TWILIO_MESSAGING_SERVICE_SID or CONFIDE_TWILIO_FROM.",
                            retryable=False)  # fmt: skip

    def send(self, sms: OutboundSMS) -> SendResult:
        fields = {"to": sms.to, "body": sms.body, **self._sender()}
        if sms.status_callback:
            fields["status_callback"] = sms.status_callback
        message = self._call(sms, lambda: self.client.messages.create(**fields))
        logger.info("twilio sms accepted", extra={"message_id": str(sms.message_id), "provider_ref": message.sid})
        return SendResult(provider_ref=message.sid or "", status=STATUS.get(message.status or "", "sent"))

    def _call(self, sms: OutboundSMS | None, call):
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return call()
        except TwilioRestException as exc:
            raise self._refusal(sms, exc) from None
        except requests.Timeout:
            raise ProviderError("timeout", "Twilio did not answer in time.", retryable=True) from None
        except requests.RequestException as exc:
            raise ProviderError("network", f"Could not reach Twilio ({type(exc).__name__}).", retryable=True) from None
        except TwilioException as exc:  # the SDK's own failures (an unparsable answer): try again later
            raise ProviderError("twilio", f"Twilio client error ({type(exc).__name__}).", retryable=True) from None

    def _refusal(self, sms: OutboundSMS | None, exc) -> ProviderError:
        status = int(getattr(exc, "status", 0) or 0)
        code = str(exc.code) if getattr(exc, "code", None) else f"http-{status}"
        if status == 429 or status >= 500 or status == 0:
            return ProviderError(code, f"Twilio is busy or failing (HTTP {status}).", retryable=True)
        if code == OPTED_OUT and sms is not None:
            record_provider_opt_out(sms)
        # Twilio's message names the problem ("The 'To' number … is not a valid phone number"):
        # it can quote the number, so staff see our sentence and the code, never Twilio's text.
        return ProviderError(code, REASONS.get(code, f"Twilio refused the text (error {code})."), retryable=False)

    def lookup(self, idempotency_key: str) -> SendResult | None:
        """The message Twilio already has for this key, found as the module docstring says; None
        when nothing matches (the caller sends again)."""
        from confide.messaging.models import Delivery, Message

        message = Message.objects.filter(idempotency_key=idempotency_key).first()
        if message is None:
            return None
        to, text = _sent_text(message)
        if not to:
            return None
        filters = {"to": to, "limit": LOOKUP_PAGE}
        sender = self._sender()
        if "from_" in sender:
            filters["from_"] = sender["from_"]
        candidates = self._call(None, lambda: list(self.client.messages.list(**filters)))
        since = message.created_at - CLOCK_SKEW
        matches = sorted(
            (m for m in candidates
             if (m.direction or "").startswith("outbound") and m.body == text and m.date_created and m.date_created >= since
             and ("messaging_service_sid" not in sender or m.messaging_service_sid == sender["messaging_service_sid"])),
            key=lambda m: m.date_created,
        )  # fmt: skip
        for match in matches:
            if not Delivery.objects.filter(provider=self.name, provider_ref=match.sid).exclude(message=message).exists():
                return SendResult(provider_ref=match.sid, status=STATUS.get(match.status or "", "sent"))
        return None


REASONS = {
    "21211": "The patient's phone number is not a valid mobile number (Twilio 21211).",
    "21408": "Texts to this country are not enabled on the practice's Twilio account (Twilio 21408).",
    "21610": "The patient's number has unsubscribed from the practice's texts at the carrier (Twilio 21610).",
    "21612": "Twilio cannot send texts to this number from the practice's number (Twilio 21612).",
    "21614": "The patient's number is not a mobile number (Twilio 21614).",
    "30007": "The carrier filtered the text (Twilio 30007).",
}


def _sent_text(message) -> tuple[str, str]:
    """(number, text) of what this message carried, read through the chart door as the messaging
    job; the same text deliver() computed (the body, or the notice)."""
    from confide.access.door import MESSAGING_SEND_JOB, open_chart
    from confide.core.models import Practice
    from confide.core.purposes import Purpose
    from confide.messaging.models import Kind, Message
    from confide.messaging.services import SEND_CATEGORIES
    from confide.messaging.tasks import notice_text

    job = MESSAGING_SEND_JOB.for_practice(message.practice_id)
    purpose = Purpose.MARKETING if message.kind == Kind.MARKETING else Purpose.OPERATIONS
    with open_chart(job, message.patient_id, purpose, categories=SEND_CATEGORIES) as chart:
        to = chart.patient.phone or ""
        if message.carried == "body":
            return to, Message.objects.get(pk=message.pk).body
    name = Practice.objects.filter(pk=message.practice_id).values_list("name", flat=True).first() or "your practice"
    return to, notice_text(name, message.channel)


def record_provider_opt_out(sms: OutboundSMS) -> None:
    """Twilio said the number unsubscribed (21610: it texted STOP to our sender at the carrier):
    record it as our opt-out too, so the gate refuses before the next call (MSG3)."""
    from django.db import transaction

    from confide.access.door import MESSAGING_SEND_JOB
    from confide.audit.chain import record, system_actor
    from confide.audit.events import AuditEvent
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.messaging.addresses import phone_blind
    from confide.messaging.models import OptOutSource, PhoneOptOut

    with tenant_context(practice_id=sms.practice_id), transaction.atomic():
        blind = phone_blind(sms.practice_id, sms.to)
        _, created = PhoneOptOut.objects.update_or_create(
            practice_id=sms.practice_id, phone_blind=blind,
            defaults={"opted_out": True, "source": OptOutSource.PROVIDER, "changed_at": timezone.now()},
        )  # fmt: skip
        record(
            AuditEvent.OPT_OUT_CHANGED, practice_id=sms.practice_id, actor=system_actor(MESSAGING_SEND_JOB.name),
            purpose=Purpose.OPERATIONS.value, subject_id=sms.patient_id, resource_ids=[sms.message_id],
            detail={"channel": "sms", "opted_out": True, "source": OptOutSource.PROVIDER.value},
        )  # fmt: skip
    logger.info("twilio: recipient unsubscribed at the carrier", extra={"message_id": str(sms.message_id)})
