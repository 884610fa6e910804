"""Helpers for the chart-door tests: staff actors of the world, patients made through the
records services, and the audit entries the door wrote."""

from __future__ import annotations

import datetime

import pytest

from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import no_tenant, tenant_context

# What a clinician registers at a first visit: identity, contact and the clinical lists. The
# government ID (front desk, operations) and insurance (billing, payment) are others' to write:
# REGISTRATION_EXTRA and BILLING_EXTRA, filled through their services by fill_every_field().
FULL = {
    "given_name": "Marisol",
    "family_name": "Quintero",
    "preferred_name": "Mari",
    "date_of_birth": datetime.date(1984, 2, 11),
    "sex": "female",
    "gender_identity": "woman",
    "pronouns": "she/her",
    "language": "es",
    "medical_record_number": "MRN-0042",
    "email": "marisol@example.test",
    "phone": "+1 415 555 0142",
    "phone_other": "+1 415 555 0199",
    "address": {"lines": ["12 Alder St"], "city": "Oakland", "state": "CA", "postal_code": "94607", "country": "US"},
    "emergency_contact": {"name": "Lucía Quintero", "relationship": "sister", "phone": "+1 415 555 0150"},
    "guardian": {"name": "Rosa Quintero", "relationship": "mother", "phone": "+1 415 555 0151"},
    "health_background": "asthma since childhood",
    "medications": [{"name": "salbutamol", "kind": "prescription", "dose": "100 mcg as needed"}],
    "allergies": [{"substance": "penicillin", "category": "medication", "criticality": "high"}],
    "conditions": [{"name": "Asthma", "coding": {"system": "http://snomed.info/sct", "code": "195967001", "display": "Asthma"}}],
    "lab_results": [{"name": "Peak flow", "value": 410.0, "unit": "L/min", "category": "vital-signs"}],
    "immunizations": [{"vaccine": "Influenza, seasonal", "date": "2025-10-01"}],
    "encounters": [{"kind": "General examination", "start": "2025-10-01T09:00:00+00:00", "end": "2025-10-01T09:30:00+00:00"}],
    "procedures": [{"name": "Spirometry", "performed": "2025-10-01T09:10:00+00:00"}],
    "intake_answers": [{"submitted_at": "2025-09-20T18:00:00+00:00", "form_version": 1,
                        "answers": [{"question": "What brings you in?", "answer": "Wheezing at night"}]}],
}
REGISTRATION_EXTRA = {"drivers_licence": "CA D1234567"}
BILLING_EXTRA = {"insurance": {"payer": "Acme Health", "member_id": "XJ-99812", "group": "G-12"}}


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
    """Every entry of this event, read as the test (outside any practice context: on PostgreSQL a
    practice's context shows only its own chain, tests/audit/test_rls.py)."""
    with no_tenant():
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
