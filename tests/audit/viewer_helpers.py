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


GENESIS_EVENT = AuditEvent.CHAIN_STARTED.value


def without_genesis(entries):
    """A test's own entries: every practice's chain begins with its genesis entry, written when
    the world's practices were made (tests/audit/test_genesis.py tests that one)."""
    if hasattr(entries, "exclude"):
        return entries.exclude(event=GENESIS_EVENT)
    return [e for e in entries if (e["event"] if isinstance(e, dict) else e.event) != GENESIS_EVENT]
