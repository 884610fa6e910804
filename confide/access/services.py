"""Reports about the door: the break-the-glass openings a privacy officer reviews, and marking one reviewed."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import acting_in_practice, open_chart
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, NotFound
from confide.core.permissions import Perm, Role
from confide.core.purposes import Purpose
from confide.core.subjects import patient_model
from confide.vault import tombstones


@dataclass(frozen=True)
class BreakGlassOpening:
    id: uuid.UUID  # the BreakGlassReason row: what "mark reviewed" names
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
    patient_name: str | None = None  # read in the same opening as the reason, where the role sees names
    reviewed_at: datetime.datetime | None = None
    reviewed_by_name: str | None = None

    @property
    def role_label(self) -> str:
        return dict(Role.choices).get(self.role, self.role)


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
        names: dict[uuid.UUID, str] = {}
        # The patient's name in the same opening as the reasons (one entry per patient shown),
        # where the reviewer's role sees names for operations (privacy officers and owners do).
        wanted = {policy.BREAK_GLASS_REASON} | ({policy.NAME} if policy.NAME in policy.categories_for(actor.role, Purpose.OPERATIONS) else set())
        for patient_id in sorted(readable, key=str):
            with open_chart(actor, patient_id, Purpose.OPERATIONS, categories=wanted, request=request) as chart:
                if policy.NAME in wanted:
                    patient = chart.patient
                    names[patient_id] = " ".join(str(p) for p in (patient.given_name, patient.family_name) if p) or "[no name]"
                for row in rows:
                    if row.patient_id == patient_id:
                        reasons[row.pk] = str(row.reason)
        return [
            BreakGlassOpening(
                id=row.pk,
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
                patient_name=names.get(row.patient_id),
                reviewed_at=row.reviewed_at,
                reviewed_by_name=row.reviewed_by.display_name if row.reviewed_by_id else None,
            )
            for row in rows
        ]


def count_unreviewed_break_glass(actor: StaffActor) -> int:
    """How many break-the-glass openings of the practice wait for review (a count: no door)."""
    from confide.access.models import BreakGlassReason

    if not isinstance(actor, StaffActor) or not actor.has(Perm.BREAK_GLASS_REVIEW):
        raise Forbidden(Perm.BREAK_GLASS_REVIEW)
    with acting_in_practice(actor):
        return BreakGlassReason.objects.filter(reviewed_at__isnull=True).count()


def do_mark_break_glass_reviewed(*, actor: StaffActor, opening_id, request=None) -> bool:
    """Mark one break-the-glass opening reviewed by this reviewer, once: a conditional UPDATE
    whose row count decides (two reviewers at once: one marks it, the other is told it was
    already done), and in the same transaction one `access:break-glass:reviewed` entry naming
    the flagged opening's entry. True if this call marked it; False if it already was.
    Another practice's opening, or none, is NotFound."""
    from confide.access.models import BreakGlassReason
    from confide.audit.chain import record
    from confide.audit.events import AuditEvent

    if not isinstance(actor, StaffActor) or not actor.has(Perm.BREAK_GLASS_REVIEW):
        raise Forbidden(Perm.BREAK_GLASS_REVIEW)
    with acting_in_practice(actor), transaction.atomic():
        row = BreakGlassReason.objects.filter(pk=opening_id).values("audit_entry_id", "patient_id").first()
        if row is None:
            raise NotFound("break-the-glass opening")
        marked = BreakGlassReason.objects.filter(pk=opening_id, reviewed_at__isnull=True).update(
            reviewed_at=timezone.now(), reviewed_by_id=actor.user_id
        )
        if marked:
            record(
                AuditEvent.BREAK_GLASS_REVIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
                subject_id=row["patient_id"], resource_ids=[row["audit_entry_id"]], request=request,
            )  # fmt: skip
        return bool(marked)
