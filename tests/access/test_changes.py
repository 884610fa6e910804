"""REC4: PHI changes only with a reason (the patient's request, an error correction, an
immaterial change), and each change is audited with that reason and the field names only."""

from __future__ import annotations

import re

import pytest

from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.core.purposes import Purpose
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
    do_update_patient(actor=clinician, patient_id=patient.id, reason=reason, phone="+14155550199")
    [changed] = entries(AuditEvent.CHART_CHANGED)
    assert shape(changed) == {
        "event": "records:chart:changed", "chain": str(world.a.practice.id), "actor": who(clinician),
        "subject": str(patient.id), "purpose": "operations", "categories": ["contact.phone"], "outcome": "ok",
        "reason": reason, "flagged": False,
    }  # fmt: skip  (contact details are registration: written for operations)
    assert changed.fields_changed == ["phone"]
    assert "555 0199" not in str(changed.detail) and "0199" not in changed.content_hash  # ids and names, never values
    assert _phone(staff, patient.id) == "+14155550199"
    with tenant_context(practice_id=world.a.practice.id):  # the blind index follows the change
        assert [p.id for p in search_patients(clinician, "(415) 555-0199")] == [patient.id]
        assert search_patients(clinician, "(415) 555-0142") == []


@pytest.mark.parametrize("reason", ["", "because", "ERROR_CORRECTION", None])
def test_rec4_a_change_without_a_valid_reason_is_refused_and_changes_nothing(staff, make_patient, reason):
    patient = make_patient()
    with pytest.raises(InvalidInput, match="needs its reason"):
        do_update_patient(actor=staff(Role.CLINICIAN), patient_id=patient.id, reason=reason, phone="+14155550199")
    assert _phone(staff, patient.id) == "+14155550142"
    assert not entries(AuditEvent.CHART_CHANGED)


def test_rec4_a_write_inside_the_door_without_record_change_is_rolled_back(world, staff, make_patient):
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with pytest.raises(AccessRefused) as caught:
        with open_chart(clinician, patient.id, Purpose.TREATMENT) as chart:
            chart.patient.phone = "+14155550199"
            chart.patient.save()
    assert caught.value.code == "change_without_reason"
    assert _phone(staff, patient.id) == "+14155550142"
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert (denied.reason, denied.detail["fields"], denied.subject_id) == ("change_without_reason", ["phone"], patient.id)
    assert not entries(AuditEvent.CHART_CHANGED)


def test_rec4_the_change_and_its_entry_roll_back_together(staff, make_patient):
    patient = make_patient()
    with pytest.raises(RuntimeError), open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, for_update=True) as chart:
        chart.record_change(["phone"], "error_correction")
        chart.patient.phone = "+14155550199"
        chart.patient.save()
        raise RuntimeError("the action failed after its entry was written")
    assert _phone(staff, patient.id) == "+14155550142"
    assert not entries(AuditEvent.CHART_CHANGED)
    assert len(entries(AuditEvent.CHART_OPENED)) == 2  # the reading stays on record (and the check's)


def test_rec4_a_change_outside_the_granted_categories_or_the_door_is_refused(staff, make_patient):
    patient = make_patient()
    with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, categories={"contact.phone"}, for_update=True) as chart:
        with pytest.raises(AccessRefused, match="health.background"):
            chart.record_change(["health_background"], "patient_request")
        with pytest.raises(InvalidInput):
            chart.record_change(["no_such_field"], "patient_request")
    with pytest.raises(AccessRefused) as caught:
        chart.record_change(["phone"], "patient_request")
    assert caught.value.code == "chart_closed"


def test_rec4_a_reading_opening_cannot_record_a_change_so_no_write_escapes_the_lock(staff, make_patient):
    patient = make_patient()
    with pytest.raises(AccessRefused) as caught:
        with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, categories={"contact.phone"}) as chart:
            chart.patient.phone = "+14155550199"
            chart.record_change(["phone"], "patient_request")
    assert caught.value.code == "chart_read_only"
    assert _phone(staff, patient.id) == "+14155550142"
    assert not entries(AuditEvent.CHART_CHANGED)


@pytest.mark.parametrize("for_update", [True, False], ids=["writing", "reading"])
def test_rec4_a_change_committed_after_the_doors_checks_is_seen_and_not_blamed_on_the_block(
    monkeypatch, staff, make_patient, for_update
):
    """Someone else's save lands between the door's checks (which load the patient) and the
    block: a writer gets the row as of its own transaction (re-read under the lock), so it
    appends to the current list (nothing of the other save is put back); a reader reads the row
    its checks read (no second query: the read is as of the checks, which are on record). The
    door refuses neither block for a change it did not make."""
    from confide.access import door
    from confide.records.services import do_add_item

    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    real_open = door._open
    colleague_saved = []

    def open_after_a_colleague_saved(*args, **kwargs):
        if not colleague_saved:  # the colleague's own openings pass straight through
            colleague_saved.append(True)
            do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", phone="+14155550177")
            do_add_item(actor=staff(Role.OWNER), patient_id=patient.id, list_name="allergies", item={"substance": "latex"})
        return real_open(*args, **kwargs)

    monkeypatch.setattr(door, "_open", open_after_a_colleague_saved)
    categories = {"contact.phone", "health.allergies"}
    with open_chart(clinician, patient.id, Purpose.TREATMENT, categories=categories, for_update=for_update) as chart:
        phone = chart.patient.phone
        allergies = [a["substance"] for a in chart.patient.allergies]
        if for_update:
            chart.record_change(["allergies"], "new_entry")
            chart.patient.allergies = [*chart.patient.allergies, {**chart.patient.allergies[0], "id": "x1", "substance": "pollen"}]
            chart.patient.save(update_fields=["allergies", "updated_at"])
    monkeypatch.undo()
    if for_update:
        assert (phone, allergies) == ("+14155550177", ["penicillin", "latex"])
    else:
        assert (phone, allergies) == ("+14155550142", ["penicillin"])
    assert _phone(staff, patient.id) == "+14155550177"
    assert not entries(AuditEvent.ACCESS_DENIED)


def test_rec4_an_update_writes_only_the_columns_it_changed(staff, make_patient):
    """A save of the whole row would put back every other field as this request read it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = make_patient()
    with CaptureQueriesContext(connection) as queries:
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", phone="+14155550199")
    [update] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "records_patient"')]
    assert sorted(re.findall(r'"(\w+)" = ', update.split(" WHERE ", 1)[0])) == ["phone", "updated_at"]


def test_front_desk_updates_registration_but_never_the_clinical_record(staff, make_patient):
    from confide.core.errors import Forbidden

    patient = make_patient()
    do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", phone="+14155550199")
    with pytest.raises(Forbidden):
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", health_background="x")
    with pytest.raises(Forbidden):  # nor insurance: billing's
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request",
                          insurance={"payer": "X", "member_id": "1"})  # fmt: skip
    with pytest.raises(InvalidInput):
        do_update_patient(actor=staff(Role.CLINICIAN), patient_id=patient.id, reason="patient_request", family_name="  ")
