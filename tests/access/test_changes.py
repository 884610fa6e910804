"""REC4: PHI changes only with a reason (the patient's request, an error correction, an
immaterial change), and each change is audited with that reason and the field names only."""

from __future__ import annotations

import pytest

from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.access.purposes import Purpose
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import do_update_patient, search_patients
from tests.access.conftest import entries, shape, who


def _phone(staff, patient_id) -> str:
    with open_chart(staff(Role.CLINICIAN), patient_id, Purpose.TREATMENT, categories={"contact.phone"}) as chart:
        return chart.patient.phone


@pytest.mark.parametrize("reason", ["patient_request", "error_correction", "immaterial"])
def test_rec4_a_change_is_recorded_with_its_reason_and_field_names(world, staff, make_patient, reason):
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    do_update_patient(actor=clinician, patient_id=patient.id, reason=reason, phone="+1 415 555 0199")
    [changed] = entries(AuditEvent.CHART_CHANGED)
    assert shape(changed) == {
        "event": "records:chart:changed", "chain": str(world.a.practice.id), "actor": who(clinician),
        "subject": str(patient.id), "purpose": "operations", "categories": ["contact.phone"], "outcome": "ok",
        "reason": reason, "flagged": False,
    }  # fmt: skip  (contact details are registration: written for operations)
    assert changed.fields_changed == ["phone"]
    assert "555 0199" not in str(changed.detail) and "0199" not in changed.hash  # ids and names, never values
    assert _phone(staff, patient.id) == "+1 415 555 0199"
    with tenant_context(practice_id=world.a.practice.id):  # the blind index follows the change
        assert [p.id for p in search_patients(clinician, "(415) 555-0199")] == [patient.id]
        assert search_patients(clinician, "(415) 555-0142") == []


@pytest.mark.parametrize("reason", ["", "because", "ERROR_CORRECTION", None])
def test_rec4_a_change_without_a_valid_reason_is_refused_and_changes_nothing(staff, make_patient, reason):
    patient = make_patient()
    with pytest.raises(InvalidInput, match="needs its reason"):
        do_update_patient(actor=staff(Role.CLINICIAN), patient_id=patient.id, reason=reason, phone="+1 415 555 0199")
    assert _phone(staff, patient.id) == "+1 415 555 0142"
    assert not entries(AuditEvent.CHART_CHANGED)


def test_rec4_a_write_inside_the_door_without_record_change_is_rolled_back(world, staff, make_patient):
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with pytest.raises(AccessRefused) as caught:
        with open_chart(clinician, patient.id, Purpose.TREATMENT) as chart:
            chart.patient.phone = "+1 415 555 0199"
            chart.patient.save()
    assert caught.value.code == "change_without_reason"
    assert _phone(staff, patient.id) == "+1 415 555 0142"
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert (denied.reason, denied.detail["fields"], denied.subject_id) == ("change_without_reason", ["phone"], patient.id)
    assert not entries(AuditEvent.CHART_CHANGED)


def test_rec4_the_change_and_its_entry_roll_back_together(staff, make_patient):
    patient = make_patient()
    with pytest.raises(RuntimeError), open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT) as chart:
        chart.record_change(["phone"], "error_correction")
        chart.patient.phone = "+1 415 555 0199"
        chart.patient.save()
        raise RuntimeError("the action failed after its entry was written")
    assert _phone(staff, patient.id) == "+1 415 555 0142"
    assert not entries(AuditEvent.CHART_CHANGED)
    assert len(entries(AuditEvent.CHART_OPENED)) == 2  # the reading stays on record (and the check's)


def test_rec4_a_change_outside_the_granted_categories_or_the_door_is_refused(staff, make_patient):
    patient = make_patient()
    with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, categories={"contact.phone"}) as chart:
        with pytest.raises(AccessRefused, match="health.background"):
            chart.record_change(["health_background"], "patient_request")
        with pytest.raises(InvalidInput):
            chart.record_change(["no_such_field"], "patient_request")
    with pytest.raises(AccessRefused) as caught:
        chart.record_change(["phone"], "patient_request")
    assert caught.value.code == "chart_closed"


def test_front_desk_updates_registration_but_never_the_clinical_record(staff, make_patient):
    from confide.core.errors import Forbidden

    patient = make_patient()
    do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", phone="+1 415 555 0199")
    with pytest.raises(Forbidden):
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", health_background="x")
    with pytest.raises(Forbidden):  # nor insurance: billing's
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request",
                          insurance={"payer": "X", "member_id": "1"})  # fmt: skip
    with pytest.raises(InvalidInput):
        do_update_patient(actor=staff(Role.CLINICIAN), patient_id=patient.id, reason="patient_request", family_name="  ")
