"""records/merge.py: two charts of one person made one — everything of the duplicate moved into
the survivor under the survivor's key, audited, reversible for 30 days or final (issue 12, item 7)."""

from __future__ import annotations

import datetime

import pytest

from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.records import files, merge
from confide.records.chart import get_clinical, get_documents, get_notes, get_psychotherapy
from confide.records.models import Patient, PatientMerge, ProgressNote, PsychotherapyNote
from confide.records.services import do_add_item, do_create_patient
from tests.records.conftest import entries
from tests.records.uploads import pdf_upload

pytestmark = pytest.mark.usefixtures("in_a")


@pytest.fixture
def pair(chart):
    """(survivor, duplicate): the duplicate is the chart world's full chart — lists, a signed and
    a draft note, a psychotherapy note, a document and a photo; the survivor has one medication."""
    chart.note(Role.CLINICIAN, signed=True), chart.note(Role.CLINICIAN, signed=False)
    chart.psychotherapy_note(Role.CLINICIAN, signed=True)
    chart.file("document"), chart.file("photo")
    clinician = chart.actor(Role.CLINICIAN)
    survivor = do_create_patient(actor=clinician, given_name="Marisol", family_name="Quintero", date_of_birth=datetime.date(1984, 2, 11))
    do_add_item(actor=clinician, patient_id=survivor.id, list_name="medications", item={"name": "metformin"})
    return survivor, chart.patient


def _names(actor, patient_id, list_name="medications"):
    return sorted(getattr(item, "name", None) or getattr(item, "substance", "") for item in get_clinical(actor, patient_id).lists[list_name].items)


def _document_bytes(actor, patient_id):
    [document] = get_documents(actor, patient_id).documents
    download = files.open_file_for_download(actor, patient_id=patient_id, kind="document", file_id=document.id)
    try:
        return download.stream.read()
    finally:
        download.stream.close()


def test_merge_moves_every_item_note_and_file_into_the_survivor_readable_under_its_key(chart, pair):
    survivor, duplicate = pair
    clinician = chart.actor(Role.CLINICIAN)
    done = merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id=duplicate.id)

    assert done.state == PatientMerge.State.REVERSIBLE
    assert _names(clinician, survivor.id) == ["metformin", "salbutamol"]
    assert _names(clinician, survivor.id, "allergies") == ["penicillin"]
    notes = get_notes(clinician, survivor.id)
    assert len(notes.notes) == 2 and all(n.intact for n in notes.notes), "signed notes still verify after re-sealing"
    assert [n["text"] for n in get_psychotherapy(clinician, survivor.id).notes] == ["Process note."], "the author still reads their psychotherapy note"
    assert _document_bytes(clinician, survivor.id) == pdf_upload().read()
    assert get_documents(clinician, survivor.id).photos and len(get_documents(clinician, survivor.id).photos) == 1
    assert not ProgressNote.objects.filter(patient_id=duplicate.id).exists()
    assert not PsychotherapyNote.objects.filter(patient_id=duplicate.id).exists()
    # The duplicate left the register: the door refuses it, its lists are empty.
    assert Patient.objects.get(id=duplicate.id).is_active is False
    with pytest.raises(AccessRefused):
        with open_chart(clinician, duplicate.id, Purpose.TREATMENT):
            pass
    [entry] = entries(AuditEvent.PATIENTS_MERGED)
    assert entry.subject_id == survivor.id and sorted(entry.resource_ids) == sorted([str(duplicate.id), str(done.pk)])
    assert entry.detail["items"] >= 5 and entry.detail["rows"]["progressnote"] == 2 and entry.detail["rows"]["document"] == 1


def test_undo_moves_back_what_came_from_the_duplicate_and_keeps_what_was_added_since(chart, pair):
    survivor, duplicate = pair
    clinician = chart.actor(Role.CLINICIAN)
    done = merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id=duplicate.id)
    do_add_item(actor=clinician, patient_id=survivor.id, list_name="medications", item={"name": "lisinopril"})

    merge.do_undo_merge(actor=clinician, merge_id=done.pk)

    assert _names(clinician, survivor.id) == ["lisinopril", "metformin"]
    assert _names(clinician, duplicate.id) == ["salbutamol"]
    assert len(get_notes(clinician, duplicate.id).notes) == 2 and not get_notes(clinician, survivor.id).notes
    assert _document_bytes(clinician, duplicate.id) == pdf_upload().read()
    assert Patient.objects.get(id=duplicate.id).is_active is True
    assert PatientMerge.objects.get(pk=done.pk).state == PatientMerge.State.UNDONE
    assert sorted(entries(AuditEvent.PATIENTS_MERGE_UNDONE)[-1].resource_ids) == sorted([str(duplicate.id), str(done.pk)])
    with pytest.raises(InvalidInput, match="already undone"):
        merge.do_undo_merge(actor=clinician, merge_id=done.pk)


def test_a_final_merge_shreds_the_duplicates_key_and_cannot_be_undone(chart, pair):
    survivor, duplicate = pair
    clinician = chart.actor(Role.CLINICIAN)
    done = merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id=duplicate.id, final=True)
    assert done.state == PatientMerge.State.FINAL
    assert entries(AuditEvent.SUBJECT_SHREDDED)[-1].subject_id == duplicate.id
    assert _names(clinician, survivor.id) == ["metformin", "salbutamol"], "what moved is under the survivor's key: unaffected"
    assert _document_bytes(clinician, survivor.id) == pdf_upload().read()
    with pytest.raises(InvalidInput):
        merge.do_undo_merge(actor=clinician, merge_id=done.pk)


def test_undo_is_refused_after_30_days(chart, pair):
    survivor, duplicate = pair
    clinician = chart.actor(Role.CLINICIAN)
    done = merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id=duplicate.id)
    PatientMerge.objects.filter(pk=done.pk).update(reversible_until=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(InvalidInput, match="30 days"):
        merge.do_undo_merge(actor=clinician, merge_id=done.pk)
    assert merge.do_finalize_merge(actor=clinician, merge_id=done.pk).state == PatientMerge.State.FINAL


def test_merge_is_refused_for_the_same_chart_a_missing_one_and_roles_that_do_not_write_the_chart(chart, pair, world):
    survivor, duplicate = pair
    clinician = chart.actor(Role.CLINICIAN)
    with pytest.raises(InvalidInput):
        merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id=survivor.id)
    with pytest.raises(NotFound):
        merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id="00000000-0000-0000-0000-000000000000")
    for role in (Role.FRONT_DESK, Role.BILLING, Role.PRIVACY_OFFICER):
        with pytest.raises(Forbidden):
            merge.do_merge_patients(actor=chart.actor(role), survivor_id=survivor.id, duplicate_id=duplicate.id)
    assert not PatientMerge.objects.exists() and not entries(AuditEvent.PATIENTS_MERGED)
    assert _names(clinician, duplicate.id) == ["salbutamol"]


def test_a_failed_merge_moves_nothing(chart, pair, monkeypatch):
    survivor, duplicate = pair
    clinician = chart.actor(Role.CLINICIAN)

    def broken(*args, **kwargs):
        raise RuntimeError("storage down")

    monkeypatch.setattr(merge.moves, "move_file", broken)
    with pytest.raises(RuntimeError):
        merge.do_merge_patients(actor=clinician, survivor_id=survivor.id, duplicate_id=duplicate.id)
    assert _names(clinician, survivor.id) == ["metformin"] and _names(clinician, duplicate.id) == ["salbutamol"]
    assert len(get_notes(clinician, duplicate.id).notes) == 2 and Patient.objects.get(id=duplicate.id).is_active
    assert not entries(AuditEvent.PATIENTS_MERGED)
