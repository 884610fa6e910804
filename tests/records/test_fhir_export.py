"""FHIR export (RTS2): the patient's record as a valid R4B collection Bundle, mode 0600, through
the door as the export job, one `records:chart:exported` entry; psychotherapy notes never."""

from __future__ import annotations

import base64
import json
import stat

import pytest
from fhir.resources.R4B.bundle import Bundle

from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import fhir, notes
from confide.records.services import do_update_patient


def _resources(path) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in json.loads(path.read_text())["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


def _text(document: dict) -> str:
    return base64.b64decode(document["content"][0]["attachment"]["data"]).decode()


@pytest.fixture
def charted(world, staff, make_patient):
    """A patient with every list filled (tests/access/conftest.py FULL), a signed note with an
    addendum, a draft, and a psychotherapy note."""
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        signed = notes.do_create_note(actor=clinician, patient_id=patient.id, content={"subjective": "Wheeze at night", "plan": "Review in 4 weeks"})
        notes.do_sign_note(actor=clinician, note_id=signed.pk)
        addendum = notes.do_add_addendum(actor=clinician, note_id=signed.pk, text="Peak flow diary started")
        draft = notes.do_create_note(actor=clinician, patient_id=patient.id, content={"subjective": "draft-only-words"})
        notes.do_create_psychotherapy_note(actor=clinician, patient_id=patient.id, text="psychotherapy-only-words")
    return patient, signed, addendum, draft


def test_the_export_is_a_valid_collection_bundle_written_for_the_owner_only(world, tmp_path, charted):
    patient, *_ = charted
    out = tmp_path / "record.json"
    result = fhir.do_export_patient(patient.id, out)

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bundle = Bundle.model_validate_json(out.read_bytes())
    assert bundle.type == "collection"
    assert result.resources == {
        "AllergyIntolerance": 1, "Condition": 1, "DocumentReference": 3, "Encounter": 1, "Immunization": 1,
        "MedicationRequest": 1, "Observation": 1, "Patient": 1, "Procedure": 1, "QuestionnaireResponse": 1,
    }  # fmt: skip
    [person] = _resources(out)["Patient"]
    assert person["id"] == str(patient.id) and person["birthDate"] == "1984-02-11" and person["gender"] == "female"
    assert person["name"] == [{"use": "official", "family": "Quintero", "given": ["Marisol"]}, {"use": "usual", "given": ["Mari"]}]
    assert [c["relationship"][1]["text"] for c in person["contact"]] == ["sister", "mother"]
    assert not list(tmp_path.glob(".confide-export-*"))  # no temporary file left behind


def test_signed_notes_and_addenda_are_exported_and_drafts_and_psychotherapy_notes_are_not(world, tmp_path, charted):
    patient, signed, addendum, draft = charted
    out = tmp_path / "record.json"
    fhir.do_export_patient(patient.id, out)

    documents = {d["id"]: d for d in _resources(out)["DocumentReference"]}
    assert _text(documents[str(signed.pk)]) == "Subjective:\nWheeze at night\n\nPlan:\nReview in 4 weeks"
    assert _text(documents[str(addendum.pk)]) == "Peak flow diary started"
    assert documents[str(addendum.pk)]["relatesTo"][0]["code"] == "appends"
    assert _text(documents[f"background-{patient.id}"]) == "asthma since childhood"
    assert str(draft.pk) not in documents
    raw = out.read_text()
    for secret in ("draft-only-words", "psychotherapy-only-words"):
        assert secret not in raw and base64.b64encode(secret.encode()).decode()[:16] not in raw


def test_one_exported_entry_names_the_notes_and_the_categories(world, tmp_path, charted):
    patient, signed, addendum, _ = charted
    before = AuditEntry.objects.count()
    fhir.do_export_patient(patient.id, tmp_path / "record.json")

    new = list(AuditEntry.objects.order_by("id")[before:])
    assert [e.event for e in new] == [AuditEvent.CHART_OPENED, AuditEvent.CHART_EXPORTED]
    opened, exported = new
    assert (exported.actor_kind, exported.actor_id, exported.purpose, exported.subject_id) == (
        "system", "fhir-export-job", "patient_request", patient.id)
    assert exported.categories == opened.categories
    assert "health.psychotherapy_notes" not in exported.categories and "identifiers.government" not in exported.categories
    assert exported.resource_ids == sorted([str(signed.pk), str(addendum.pk)])
    assert exported.detail["resources"]["DocumentReference"] == 3


def test_asking_for_psychotherapy_notes_is_refused_until_the_patient_authorizes_it(world, tmp_path, charted):
    patient, *_ = charted
    assert fhir._psychotherapy_authorization(world.a.practice.id, patient.id) is None
    out = tmp_path / "record.json"
    with pytest.raises(AccessRefused) as refused:
        fhir.do_export_patient(patient.id, out, include_psychotherapy_notes=True)
    assert "without the patient's specific authorization, recorded in the consent ledger" in str(refused.value)
    assert not out.exists()
    denied = AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED).latest("id")
    assert (denied.reason, denied.categories, denied.actor_id) == (
        "psychotherapy_not_authorized", ["health.psychotherapy_notes"], "fhir-export-job")
    assert not AuditEntry.objects.filter(event=AuditEvent.CHART_EXPORTED).exists()


def test_an_over_the_counter_medication_comes_back_as_one(world, staff, tmp_path, make_patient):
    patient = make_patient(medications=[{"name": "ibuprofen 200 mg", "kind": "otc"}, {"name": "salbutamol", "kind": "prescription"}])
    out = tmp_path / "record.json"
    fhir.do_export_patient(patient.id, out)
    resources = _resources(out)
    assert [r["medicationCodeableConcept"]["text"] for r in resources["MedicationStatement"]] == ["ibuprofen 200 mg"]
    assert [r["medicationCodeableConcept"]["text"] for r in resources["MedicationRequest"]] == ["salbutamol"]
    again = fhir.import_bundle(json.loads(out.read_text()), practice_id=world.b.practice.id)
    from tests.records.test_fhir_import import chart

    kinds = {m["name"]: m["kind"] for m in chart(world, again.patient_id, "medications", where=world.b)["medications"]}
    assert kinds == {"ibuprofen 200 mg": "otc", "salbutamol": "prescription"}


def test_a_missing_patient_is_not_found_and_nothing_is_written(world, tmp_path):
    import uuid

    with pytest.raises(NotFound):
        fhir.do_export_patient(uuid.uuid4(), tmp_path / "record.json")
    assert not (tmp_path / "record.json").exists()


def test_an_erased_patient_is_refused_by_the_door(world, staff, tmp_path, make_patient):
    from confide.records.services import do_shred_patient

    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
    with pytest.raises(AccessRefused) as refused:
        fhir.do_export_patient(patient.id, tmp_path / "record.json")
    assert refused.value.code == "patient_shredded"
    assert not (tmp_path / "record.json").exists()


def test_a_failed_write_leaves_no_export_on_record(world, tmp_path, make_patient):
    patient = make_patient()
    with pytest.raises(OSError):
        fhir.do_export_patient(patient.id, tmp_path / "no-such-dir" / "record.json")
    assert not AuditEntry.objects.filter(event=AuditEvent.CHART_EXPORTED).exists()


def test_the_registration_fields_the_job_may_not_read_stay_out(world, staff, tmp_path, make_patient):
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", drivers_licence="CA D7654321")
        do_update_patient(actor=staff(Role.BILLING), patient_id=patient.id, reason="patient_request",
                          insurance={"payer": "Acme Health", "member_id": "XJ-99812"})  # fmt: skip
    out = tmp_path / "record.json"
    fhir.do_export_patient(patient.id, out)
    raw = out.read_text()
    assert "D7654321" not in raw and "XJ-99812" not in raw


def test_a_sex_typed_as_free_text_is_left_out_rather_than_making_the_bundle_invalid(world, tmp_path, make_patient):
    """The services accept only FHIR's four codes now; a chart from before holds free text."""
    from confide.records.models import Patient
    from confide.vault.allowance import allow

    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id), allow({"identifiers.demographics"}):
        stored = Patient.objects.get(id=patient.id)
        stored.sex = "F"
        stored.save(update_fields=["sex"])
    out = tmp_path / "record.json"
    fhir.do_export_patient(patient.id, out)
    [person] = _resources(out)["Patient"]
    assert "gender" not in person
    Bundle.model_validate_json(out.read_bytes())


def test_with_the_patients_recorded_authorization_the_signed_psychotherapy_notes_are_released(world, staff, tmp_path, charted):
    """HIPAA §164.508(a)(2): a specific authorization, recorded by staff from the signed form;
    withdrawing it stops the next release."""
    from confide.consent import services as consent

    patient, *_ = charted
    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        [note] = notes.list_psychotherapy_notes(clinician, patient.id)
        notes.do_sign_psychotherapy_note(actor=clinician, patient_id=patient.id, note_id=note["id"])
    subject = consent.Subject.patient(world.a.practice.id, patient.id)
    form = "I authorize the release of my psychotherapy notes to me, in my portable copy. Signed, dated."
    consent.do_grant(actor=staff(Role.PRIVACY_OFFICER), subject=subject, topic="psychotherapy_notes_disclosure",
                     channel="paper", method="staff_paper", shown_text=form)  # fmt: skip
    out = tmp_path / "record.json"
    result = fhir.do_export_patient(patient.id, out, include_psychotherapy_notes=True)
    documents = _resources(out)["DocumentReference"]
    released = [d for d in documents if d["description"].startswith("Psychotherapy note")]
    assert [_text(d) for d in released] == ["psychotherapy-only-words"] and released[0]["type"] == {"text": released[0]["description"]}
    assert result.resources["DocumentReference"] == 4
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, reason="authorized-release").get()
    assert (opened.categories, opened.resource_ids, opened.actor_id) == (["health.psychotherapy_notes"], [str(note["id"])], "fhir-export-job")
    exported = AuditEntry.objects.filter(event=AuditEvent.CHART_EXPORTED).latest("id")
    assert exported.detail["psychotherapy_notes"] is True and "health.psychotherapy_notes" in exported.categories

    consent.do_withdraw(actor=staff(Role.PRIVACY_OFFICER), subject=subject, topic="psychotherapy_notes_disclosure",
                        channel="phone", method="staff_phone", shown_text="Withdraw my authorization.")  # fmt: skip
    with pytest.raises(AccessRefused):
        fhir.do_export_patient(patient.id, tmp_path / "again.json", include_psychotherapy_notes=True)
    assert not (tmp_path / "again.json").exists()
