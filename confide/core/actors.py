"""Who is acting. Services take one of these, keyword-only, and authorize against it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confide.core.permissions import Perm, Role, role_has


@dataclass(frozen=True)
class StaffActor:
    user_id: int
    membership_id: uuid.UUID
    practice_id: uuid.UUID
    role: Role

    def has(self, perm: Perm) -> bool:
        return role_has(self.role, perm)

    @classmethod
    def from_membership(cls, membership) -> StaffActor:
        return cls(
            user_id=membership.user_id,
            membership_id=membership.id,
            practice_id=membership.practice_id,
            role=Role(membership.role),
        )


@dataclass(frozen=True)
class PatientActor:
    """A patient acting on one record: their own, or — as a parent or guardian, a personal
    representative — a minor's (`representative=True`).

    From the portal, `user_id` is the signed-in portal account and `link_id` the `PortalLink`
    that joins it to the record; the chart door re-reads that link on every opening. A choice
    recorded without a portal account (a consent button the practice shows) has neither and
    cannot open the chart."""

    practice_id: uuid.UUID
    patient_id: uuid.UUID
    user_id: int | None = None
    link_id: uuid.UUID | None = None
    representative: bool = False
