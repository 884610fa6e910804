"""Reports about the door: the break-the-glass openings a privacy officer reviews."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from confide.access import policy
from confide.access.door import acting_in_practice, open_chart
from confide.core.purposes import Purpose
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden
from confide.core.permissions import Perm
from confide.core.subjects import patient_model
from confide.vault import tombstones


@dataclass(frozen=True)
class BreakGlassOpening:
    audit_entry_id: int
    seq: int
    at: datetime.datetime
    patient_id: uuid.UUID
    opened_by_user_id: int
    opened_by_name: str
    role: str
    purpose: str
    categories: tuple[str, ...]
    reason: str | None  # None when the patient was erased or removed from the active database


def list_break_glass_openings(actor: StaffActor, *, request=None) -> list[BreakGlassOpening]:
    """Every break-the-glass opening in the actor's practice, newest first, with its reason.

    Holders of `access:break-glass:review` (privacy officers) only. The typed reasons are PHI: they are read through the door, one
    `records:chart:opened` entry (purpose operations, category operations.break_glass_reason)
    per patient shown, so reviewing is audited like any other reading."""
    from confide.access.models import BreakGlassReason

    if not isinstance(actor, StaffActor) or not actor.has(Perm.BREAK_GLASS_REVIEW):
        raise Forbidden(Perm.BREAK_GLASS_REVIEW)
    with acting_in_practice(actor):
        rows = list(BreakGlassReason.objects.select_related("audit_entry", "opened_by").order_by("-created_at", "-id"))
        patient_ids = {row.patient_id for row in rows}
        shredded = tombstones.shredded()
        readable = {
            pk for pk in patient_model().objects.filter(pk__in=patient_ids, is_active=True).values_list("pk", flat=True) if str(pk) not in shredded
        }
        reasons: dict[uuid.UUID, str] = {}
        for patient_id in sorted(readable, key=str):
            with open_chart(actor, patient_id, Purpose.OPERATIONS, categories={policy.BREAK_GLASS_REASON}, request=request):
                for row in rows:
                    if row.patient_id == patient_id:
                        reasons[row.pk] = str(row.reason)
        return [
            BreakGlassOpening(
                audit_entry_id=row.audit_entry_id,
                seq=row.audit_entry.seq,
                at=row.audit_entry.at,
                patient_id=row.patient_id,
                opened_by_user_id=row.opened_by_id,
                opened_by_name=row.opened_by.display_name,
                role=row.audit_entry.actor_role,
                purpose=row.audit_entry.purpose,
                categories=tuple(row.audit_entry.categories),
                reason=reasons.get(row.pk),
            )
            for row in rows
        ]
