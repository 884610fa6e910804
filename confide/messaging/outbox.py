"""What the console SMS adapter "sent" (the development outbox), for `confide outbox` and the
staff Outbox page: ids, channel, kind, the recipient's blind index, time and the message's
status — never the number, never the body (the body opens only through the chart door).

    outbox_rows(practice_id, limit=50) -> [OutboxRow]     newest first
    console_configured() -> bool                          the console adapter is the SMS adapter
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.conf import settings

from confide.core.tenancy import tenant_context
from confide.messaging.models import Message, OutboxEntry, Status


@dataclass(frozen=True)
class OutboxRow:
    id: uuid.UUID
    message_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    channel: str
    kind: str
    recipient_blind: str
    created_at: datetime.datetime
    status: str  # the message's status now (a Status value), "" for a text with no message (a STOP reply)

    @property
    def status_label(self) -> str:
        return Status(self.status).label if self.status else "Sent (automatic reply)"

    @property
    def recipient_short(self) -> str:
        return self.recipient_blind[:8]


def console_configured() -> bool:
    return getattr(settings, "CONFIDE_SMS_ADAPTER", "console") == "console"


def outbox_rows(practice_id, *, limit: int = 50) -> list[OutboxRow]:
    with tenant_context(practice_id=practice_id):
        entries = list(
            OutboxEntry.objects.filter(practice_id=practice_id)
            .order_by("-created_at")
            .values("id", "message_id", "patient_id", "channel", "kind", "recipient_blind", "created_at")[:limit]
        )  # the body column is not read
        ids = {e["message_id"] for e in entries if e["message_id"]}
        statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [OutboxRow(**entry, status=statuses.get(entry["message_id"], "")) for entry in entries]
