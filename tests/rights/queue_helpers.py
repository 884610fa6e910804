"""Shared bits of the queue part's tests: the staff actors, a fixed clock after the real now."""

from __future__ import annotations

from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import decisions
from confide.rights.models import Letter, RightsRequest

START = "2027-01-04T15:00:00Z"  # a Monday, after the real now


def staff(pw, role=Role.PRIVACY_OFFICER) -> StaffActor:
    return StaffActor.from_membership(pw.memberships[role])


def fresh(row) -> RightsRequest:
    with tenant_context(practice_id=row.practice_id):
        return RightsRequest.objects.get(pk=row.pk)


def letters(row) -> list[Letter]:
    with tenant_context(practice_id=row.practice_id):
        return list(Letter.objects.filter(request_id=row.pk).order_by("sent_at"))


def letter_text(pw, letter) -> str:
    return decisions.get_letter(actor=staff(pw), letter_id=letter.pk)[1]


def entries(pw, event) -> list[AuditEntry]:
    with tenant_context(practice_id=pw.practice.id):
        return list(AuditEntry.objects.filter(chain=str(pw.practice.id), event=event).order_by("id"))
