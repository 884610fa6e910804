"""Entries for the audit viewer and report tests, written through the real chain."""

from __future__ import annotations

import uuid

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.permissions import Role


def staff(practice_world, role: Role) -> StaffActor:
    return StaffActor.from_membership(practice_world.memberships[role])


def chart_opened(practice_world, patient_id: uuid.UUID, *, role: Role = Role.CLINICIAN, purpose: str = "treatment", categories=("contact", "health")):
    return record(
        AuditEvent.CHART_OPENED, practice_id=practice_world.practice.id, actor=staff(practice_world, role),
        purpose=purpose, subject_id=patient_id, categories=categories,
    )  # fmt: skip
