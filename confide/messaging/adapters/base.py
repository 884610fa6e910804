"""The port every provider adapter implements, and what crosses it.

    adapter.send(OutboundSMS(...)) -> SendResult      one provider call; raises ProviderError
    adapter.lookup(idempotency_key) -> SendResult | None   did an earlier call get through?

`lookup` is what makes a retry after a crash safe: a worker killed between the provider call
and the status write leaves the message `sending`; the next claim asks the provider for the key
before sending again (messaging/tasks.py). An adapter that cannot answer returns None and the
send is repeated — so an adapter whose provider cannot be asked must say so in `can_lookup`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class OutboundSMS:
    practice_id: uuid.UUID
    message_id: uuid.UUID
    patient_id: uuid.UUID | None
    to: str  # E.164
    body: str
    kind: str
    idempotency_key: str
    status_callback: str = ""  # the signed status webhook's URL, for providers that call back

    def __repr__(self) -> str:  # never the number or the body in a traceback or a log line
        return f"OutboundSMS(message={self.message_id}, key={self.idempotency_key})"


@dataclass(frozen=True)
class OutboundEmail:
    practice_id: uuid.UUID
    message_id: uuid.UUID
    patient_id: uuid.UUID | None
    to: str
    subject: str
    text: str
    html: str
    kind: str
    idempotency_key: str
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return f"OutboundEmail(message={self.message_id}, key={self.idempotency_key})"


@dataclass(frozen=True)
class SendResult:
    provider_ref: str  # Twilio's MessageSid, the e-mail's Message-ID, the console's row id
    status: str  # a messaging.models.Status value the provider reported: queued, sent, …


class ProviderError(Exception):
    """A provider refused or failed. `retryable`: a 5xx, a 429 or a timeout (try again later);
    otherwise (a 4xx) the message fails with `code` and `reason` (never PHI)."""

    def __init__(self, code: str, reason: str, *, retryable: bool):
        super().__init__(f"{code}: {reason}")
        self.code = str(code)[:16]
        self.reason = str(reason)[:200]
        self.retryable = retryable
