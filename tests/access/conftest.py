"""Helpers for the chart-door tests: staff actors of the world, patients made through the
records services, and the audit entries the door wrote."""

from __future__ import annotations

import datetime

import pytest

from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context

FULL = {
    "given_name": "Marisol",
    "family_name": "Quintero",
    "preferred_name": "Mari",
    "date_of_birth": datetime.date(1984, 2, 11),
    "email": "marisol@example.test",
    "phone": "+1 415 555 0142",
    "health_background": "asthma since childhood",
    "medications": [{"name": "salbutamol", "otc": False}],
}


@pytest.fixture
def staff(world):
    """staff(role, where=world.a) -> the StaffActor of that role in that practice."""

    def make(role: Role, where=None) -> StaffActor:
        return StaffActor.from_membership((where or world.a).memberships[role])

    return make


@pytest.fixture
def make_patient(world, staff):
    """make_patient(where=world.a, **fields) -> a Patient created by that practice's clinician
    through records.services.do_create_patient (so through the door)."""
    from confide.records.services import do_create_patient

    def make(where=None, **overrides):
        where = where or world.a
        with tenant_context(practice_id=where.practice.id):
            return do_create_patient(actor=staff(Role.CLINICIAN, where), **(FULL | overrides))

    return make


@pytest.fixture
def in_a(world):
    with tenant_context(practice_id=world.a.practice.id):
        yield


def entries(event) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(event=str(event)).order_by("id"))


def shape(entry: AuditEntry) -> dict:
    """The fields every door test checks, in a comparable form."""
    return {
        "event": entry.event,
        "chain": entry.chain,
        "actor": (entry.actor_kind, entry.actor_id, entry.actor_role),
        "subject": str(entry.subject_id) if entry.subject_id else None,
        "purpose": entry.purpose,
        "categories": entry.categories,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "flagged": entry.flagged,
    }


def who(actor) -> tuple[str, str, str]:
    return ("user", str(actor.user_id), str(actor.role))
