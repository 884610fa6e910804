"""The queue of texts no single patient matches (an unknown number, or one several patients
share): staff read them, file each under the right patient (it moves into their thread, sealed
under their key) or dismiss it.

    list_unmatched(actor)                           the open rows, bodies opened, one audit entry
    do_file_unmatched(actor=, unmatched_id=, patient_id=)   into the patient's thread
    do_dismiss_unmatched(actor=, unmatched_id=)

The number and body are sealed under the practice's key (no patient's key exists for them):
they are opened here, for a member holding `messaging:thread:view`, in a vault allowance bound to
exactly the rows shown, and each reading is a `messaging:unmatched:viewed` entry naming them.
Filing and dismissing are conditional updates (`resolved_at IS NULL`): two staff members acting
on one row at once, one wins and the other is told it was done already.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import phonenumbers
from django.db import transaction
from django.utils import timezone

from confide.access import policy
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.messaging.models import Channel, UnmatchedInbound

REASON_LABELS = {
    "emergency": "Emergency words: the automatic 911 reply was sent",
    "crisis": "Crisis words: the automatic 911 and 988 reply was sent",
    "opt-out-review": "Asked to stop texts: texts were stopped; confirm with the sender",
}


@dataclass(frozen=True)
class UnmatchedRow:
    id: uuid.UUID
    received_at: object
    number: str  # national format, for staff
    body: str
    candidates: int
    urgent: str  # a sentence, "" when not urgent


def _require(actor, perm: Perm) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(perm):
        raise Forbidden(perm)


def _display(number: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return number


def list_unmatched(actor, *, request=None, limit: int = 100) -> list[UnmatchedRow]:
    from confide.vault.allowance import allow

    _require(actor, Perm.MESSAGES_VIEW)
    with tenant_context(practice_id=actor.practice_id):
        rows = list(UnmatchedInbound.objects.filter(resolved_at__isnull=True).order_by("-received_at")[:limit])
        if not rows:
            return []
        record(
            AuditEvent.UNMATCHED_VIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
            resource_ids=[r.pk for r in rows], categories=[policy.PHONE, policy.MESSAGES], detail={"count": len(rows)}, request=request,
        )  # fmt: skip
        with allow({policy.PHONE, policy.MESSAGES}, subjects={r.pk for r in rows}):
            return [
                UnmatchedRow(id=r.pk, received_at=r.received_at, number=_display(r.from_number or ""), body=r.body or "",
                             candidates=r.candidates, urgent=REASON_LABELS.get(r.urgent_reason, ""))  # fmt: skip
                for r in rows
            ]


def _open_row(unmatched_id) -> UnmatchedInbound:
    try:
        pk = uuid.UUID(str(unmatched_id))
    except ValueError:
        raise NotFound("unmatched text") from None
    row = UnmatchedInbound.objects.filter(pk=pk).first()
    if row is None:
        raise NotFound("unmatched text")
    if row.resolved_at is not None:
        raise InvalidInput("This text was filed or dismissed already.")
    return row


def _resolve(row: UnmatchedInbound, actor: StaffActor, resolution: str, patient_id=None) -> None:
    done = UnmatchedInbound.objects.filter(pk=row.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by_id=actor.user_id, resolution=resolution, patient_id=patient_id
    )
    if not done:
        raise InvalidInput("This text was filed or dismissed already.")


def do_file_unmatched(*, actor, unmatched_id, patient_id, request=None):
    """Move the text into the patient's thread (sealed under their key), on record."""
    from confide.messaging.inbound import flag_thread
    from confide.messaging.services import receive_message
    from confide.records.models import Patient
    from confide.vault.allowance import allow

    _require(actor, Perm.MESSAGES_SEND)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        row = _open_row(unmatched_id)
        try:
            patient_pk = uuid.UUID(str(patient_id))
        except ValueError:
            raise InvalidInput("Choose the patient to file this text under.") from None
        if not Patient.objects.filter(pk=patient_pk, is_active=True).exists():
            raise InvalidInput("Choose the patient to file this text under.")
        _resolve(row, actor, "filed", patient_pk)
        with allow({policy.MESSAGES}, subjects={row.pk}):
            body = row.body or ""
        message = receive_message(practice_id=actor.practice_id, patient_id=patient_pk, channel=Channel.SMS, body=body, request=request)
        UnmatchedInbound.objects.filter(pk=row.pk).update(message=message)
        # The text never stays in two places: the practice-key copy is cleared once it is filed.
        UnmatchedInbound.objects.filter(pk=row.pk).update(body=None)
        if row.urgent_reason:
            flag_thread(message, row.urgent_reason, request=request)
        record(
            AuditEvent.UNMATCHED_FILED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value, subject_id=patient_pk,
            resource_ids=[row.pk, message.pk, message.thread_id], request=request,
        )  # fmt: skip
    return message


def do_dismiss_unmatched(*, actor, unmatched_id, request=None) -> None:
    _require(actor, Perm.MESSAGES_SEND)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        row = _open_row(unmatched_id)
        _resolve(row, actor, "dismissed")
        record(AuditEvent.UNMATCHED_DISMISSED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
               resource_ids=[row.pk], request=request)  # fmt: skip
