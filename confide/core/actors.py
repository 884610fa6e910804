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
