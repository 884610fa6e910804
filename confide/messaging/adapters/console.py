"""The console SMS adapter (the default): every call writes one `OutboxEntry` — the body sealed
under the patient's key, the recipient as its blind index — and logs one line of ids. Nothing
leaves the machine. `confide outbox` and the staff Outbox page list what it "sent"."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from confide.access.door import MESSAGING_SEND_JOB, open_chart
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.messaging.adapters.base import OutboundSMS, SendResult
from confide.messaging.models import MESSAGES

logger = logging.getLogger(__name__)


class ConsoleSMSAdapter:
    name = "console"
    processor_id = "sms"  # stands in for the SMS processor on the egress gate (adapters/__init__.py)
    can_lookup = True

    def send(self, sms: OutboundSMS) -> SendResult:
        ref = f"CO{uuid.uuid4().hex}"
        # Like a real provider, the outbox commits on its own: a worker killed after this call
        # and before its status write finds the row by the key (tasks.py) and sends nothing.
        # The body is sealed under the patient's key inside the messaging job's own opening; a
        # text to a number no patient has (a STOP confirmation) keeps no body.
        if sms.patient_id is None:
            with tenant_context(practice_id=sms.practice_id), transaction.atomic():
                self._write(sms, ref, None)
        else:
            job = MESSAGING_SEND_JOB.for_practice(sms.practice_id)
            with open_chart(job, sms.patient_id, Purpose.OPERATIONS, categories={MESSAGES}):
                self._write(sms, ref, sms.body)
        logger.info("console sms sent", extra={"message_id": str(sms.message_id), "provider_ref": ref})
        return SendResult(provider_ref=ref, status="sent")

    def _write(self, sms: OutboundSMS, ref: str, body) -> None:
        from confide.messaging.models import Channel, OutboxEntry

        OutboxEntry.objects.create(
                practice_id=sms.practice_id, message_id=sms.message_id, patient_id=sms.patient_id, channel=Channel.SMS,
                kind=sms.kind, recipient_blind=recipient_blind(sms.practice_id, sms.to), idempotency_key=sms.idempotency_key,
                provider_ref=ref, body=body,
            )  # fmt: skip

    def lookup(self, idempotency_key: str) -> SendResult | None:
        from confide.messaging.models import OutboxEntry

        row = OutboxEntry.objects.filter(idempotency_key=idempotency_key).order_by("created_at").first()
        return SendResult(provider_ref=row.provider_ref, status="sent") if row else None


def recipient_blind(practice_id, phone: str) -> str:
    """The blind index of a phone number (never the number) for lists and logs."""
    from confide.messaging.addresses import phone_blind

    return phone_blind(practice_id, phone)
