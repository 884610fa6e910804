"""The records services go through the door: the exact audit entry each one writes."""

from __future__ import annotations

import pytest

from confide.access.errors import AccessRefused
from confide.accounts.models import Membership
from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import do_create_patient, do_shred_patient, list_patient_summaries
from tests.access.conftest import entries, shape, who

IDENTITY = ["contact.email", "contact.phone", "identifiers.dob", "identifiers.name"]


def test_creating_a_patient_writes_one_created_entry(world, staff):
    owner = staff(Role.OWNER)
    with tenant_context(practice_id=world.a.practice.id):
        patient = do_create_patient(actor=owner, given_name="Ada", family_name="Lovelace", email="ada@example.test")
    [created] = entries(AuditEvent.PATIENT_CREATED)
    assert shape(created) == {
        "event": "records:patient:created", "chain": str(world.a.practice.id), "actor": who(owner),
        "subject": str(patient.id), "purpose": "operations", "categories": ["contact.email", "identifiers.name"],
        "outcome": "ok", "reason": "", "flagged": False,
    }  # fmt: skip
    assert created.fields_changed == ["email", "family_name", "given_name"]
    assert not entries(AuditEvent.CHART_OPENED)


def test_creating_through_a_closed_membership_is_refused_and_creates_nothing(world, staff):
    from confide.records.models import Patient

    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        Membership.objects.filter(id=clinician.membership_id).update(is_active=False)
        with pytest.raises(AccessRefused):
            do_create_patient(actor=clinician, given_name="Ada", family_name="Lovelace")
        assert not Patient.objects.exists()
    assert entries(AuditEvent.ACCESS_DENIED)[-1].reason == "membership_inactive"


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.CLINICIAN, Role.OWNER])
def test_the_patient_list_is_one_listed_entry_naming_every_patient_shown(world, staff, make_patient, role):
    shown = [make_patient(given_name=f"P{n}", preferred_name=None, email=f"p{n}@example.test", phone=None) for n in range(3)]
    gone = make_patient(given_name="Gone", email="gone@example.test")
    make_patient(world.b, given_name="Bravo")
    with tenant_context(practice_id=world.a.practice.id):
        do_shred_patient(practice_id=world.a.practice.id, patient_id=gone.id)
        actor = staff(role)
        rows = list_patient_summaries(actor, "")
    assert sorted(r.display_name for r in rows) == ["P0 Quintero", "P1 Quintero", "P2 Quintero"]
    [listed] = entries(AuditEvent.PATIENTS_LISTED)
    assert shape(listed) == {
        "event": "records:patients:listed", "chain": str(world.a.practice.id), "actor": who(actor), "subject": None,
        "purpose": "operations", "categories": IDENTITY, "outcome": "ok", "reason": "", "flagged": False,
    }  # fmt: skip
    assert listed.resource_ids == sorted(str(p.id) for p in shown)
    assert listed.detail == {"count": 3}
    assert not entries(AuditEvent.CHART_OPENED)


def test_a_search_writes_one_entry_however_many_rows(world, staff, make_patient):
    for n in range(6):
        make_patient(given_name=f"P{n}", email=f"p{n}@example.test")
    with tenant_context(practice_id=world.a.practice.id):
        assert len(list_patient_summaries(staff(Role.FRONT_DESK), "quintero")) == 6
        assert list_patient_summaries(staff(Role.FRONT_DESK), "nobody@example.test") == []
    assert [e.detail["count"] for e in entries(AuditEvent.PATIENTS_LISTED)] == [6, 0]


def test_the_privacy_officer_cannot_list_patients(world, staff, make_patient):
    make_patient()
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(Forbidden):
        list_patient_summaries(staff(Role.PRIVACY_OFFICER), "")
