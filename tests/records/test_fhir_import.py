"""FHIR import (records/fhir.py): a bundle becomes one chart through the door as the import job;
re-importing replaces, never duplicates; a bad bundle writes nothing at all."""

from __future__ import annotations

import json
import re

import pytest
from django.test import override_settings

from confide.access.door import FHIR_IMPORT_JOB, open_chart
from confide.access.errors import AccessRefused
from confide.core.purposes import Purpose
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import fhir
from confide.records.models import Patient
from confide.records.services import do_add_item, do_shred_patient
from confide.vault.blind_index import source_keyer
from tests.records.fhir_bundles import as_bytes, need_synthea, resource_of, small_bundle, variant

LISTS = ("medications", "allergies", "conditions", "lab_results", "immunizations", "encounters", "procedures")
IMPORTED = {"Patient": 1, "Condition": 1, "Observation": 3, "MedicationRequest": 1, "MedicationStatement": 1,
            "AllergyIntolerance": 1, "Immunization": 1, "Encounter": 1, "Procedure": 1}  # fmt: skip


def run_import(world, bundle: dict, where=None, **kwargs) -> fhir.ImportResult:
    practice = (where or world.a).practice
    return fhir.import_bundle(fhir.parse_bundle(as_bytes(bundle)), practice_id=practice.id, **kwargs)


def chart(world, patient_id, *fields, role=Role.CLINICIAN, purpose=Purpose.TREATMENT, where=None) -> dict:
    """The fields' values, read through the door as a member of the practice."""
    where = where or world.a
    actor = StaffActor.from_membership(where.memberships[role])
    with tenant_context(practice_id=where.practice.id), open_chart(actor, patient_id, purpose) as opened:
        return {name: getattr(opened.patient, name) for name in fields}


def by_name(items: list[dict], key: str = "name") -> dict:
    return {item[key]: item for item in items}


def test_a_bundle_becomes_one_patient_with_its_clinical_lists(world):
    result = run_import(world, small_bundle())

    assert result.created and dict(result.imported) == IMPORTED
    assert dict(result.skipped_types) == {"Claim": 1}
    values = chart(world, result.patient_id, "given_name", "family_name", "preferred_name", "date_of_birth", "sex", "language",
                   "medical_record_number", "phone", "email", "address", *LISTS)  # fmt: skip
    assert (values["given_name"], values["family_name"], values["preferred_name"]) == ("Temitope Ada", "Oyelaran", "Temi")
    assert (str(values["date_of_birth"]), values["sex"], values["language"]) == ("1988-04-17", "female", "yo")
    assert (values["medical_record_number"], values["phone"], values["email"]) == ("MRN-7781", "+14155550177", "temi.o@example.test"), "stored in E.164"
    assert values["address"] == {"lines": ["9 Larch Way"], "city": "Berkeley", "state": "CA", "postal_code": "94703", "country": "US"}
    meds = by_name(values["medications"])
    assert re.fullmatch(r"[0-9a-f]{64}", meds["lisinopril 10 MG Oral Tablet"]["source_digest"])
    assert meds["lisinopril 10 MG Oral Tablet"] | {"id": "", "source_key": "", "recorded_at": None, "source_digest": ""} == {
        "id": "", "source_key": "", "recorded_at": None, "source_digest": "", "name": "lisinopril 10 MG Oral Tablet",
        "coding": {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076", "display": "lisinopril 10 MG Oral Tablet"},
        "dose": "10 mg once daily", "route": "oral", "kind": "prescription", "status": "active", "start": "2019-03-02", "end": None,
        "prescriber": "", "note": "", "reported_by_patient": False,
    }  # fmt: skip
    assert meds["Acetaminophen 500 MG Oral Tablet"]["kind"] == "unknown"  # a statement says nothing of a prescription
    results = by_name(values["lab_results"])
    bp = results["Blood pressure"]
    assert [(c["name"], c["value"], c["unit"]) for c in bp["components"]] == [("Systolic", 138.0, "mm[Hg]"), ("Diastolic", 88.0, "mm[Hg]")]
    assert [c["id"] for c in bp["components"]] == [f"{bp['id']}-0", f"{bp['id']}-1"]
    assert (results["Hemoglobin A1c"]["value"], results["Hemoglobin A1c"]["unit"]) == (6.1, "%")
    smoking = results["Tobacco smoking status"]
    assert (smoking["value_text"], smoking["value_coding"]["code"]) == ("Never smoker", "266919005")
    [allergy] = values["allergies"]
    assert (allergy["substance"], allergy["category"], allergy["criticality"], allergy["reaction"]) == ("Penicillin", "medication", "high", "hives")
    assert allergy["recorded_at"].startswith("2015-07-01T12:00:00")
    [condition] = values["conditions"]
    assert (condition["status"], condition["onset"]) == ("active", "2019-03-02")
    [encounter], [procedure] = values["encounters"], values["procedures"]
    assert (encounter["klass"], encounter["reason"], encounter["start"]) == ("ambulatory", "annual review", "2024-05-06T09:00:00Z")
    assert procedure["encounter_key"] == encounter["source_key"] != ""
    assert values["immunizations"][0]["lot_number"] == "LOT-22"


def test_ids_from_the_source_are_kept_only_as_keyed_hashes(world):
    result = run_import(world, small_bundle())
    with tenant_context(practice_id=world.a.practice.id):
        patient = Patient.objects.get(pk=result.patient_id)
        keyed = source_keyer(world.a.practice.id)
    assert patient.source_key == keyed(f"fhir:{fhir.DEFAULT_SOURCE_SYSTEM}:Patient/0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01")
    [condition] = chart(world, result.patient_id, "conditions")["conditions"]
    assert condition["source_key"] == keyed(f"fhir:{fhir.DEFAULT_SOURCE_SYSTEM}:Condition/cond-1")
    assert "cond-1" not in json.dumps(chart(world, result.patient_id, *LISTS))
    # The same bundle in another practice: another patient, unrelated keys (per-practice index keys).
    other = run_import(world, small_bundle(), where=world.b)
    with tenant_context(practice_id=world.b.practice.id):
        assert Patient.objects.get(pk=other.patient_id).source_key not in ("", patient.source_key)


def test_the_drivers_licence_is_counted_as_skipped_and_never_stored(world):
    result = run_import(world, small_bundle())
    assert result.skipped_fields["Patient.identifier[DL]"] == 1
    assert result.skipped_fields["Patient.maritalStatus"] == 1
    # The front desk may read the government ID (registration): there is none.
    assert chart(world, result.patient_id, "drivers_licence", role=Role.FRONT_DESK, purpose=Purpose.OPERATIONS) == {"drivers_licence": None}
    # Nor could the import job have written it: the door refuses the category.
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(AccessRefused) as refused:
        with open_chart(FHIR_IMPORT_JOB.for_practice(world.a.practice.id), result.patient_id, Purpose.TREATMENT,
                        categories={"identifiers.government"}):  # fmt: skip
            pass
    assert refused.value.code == "category_not_granted"


def test_the_audit_trail_is_the_doors_one_created_entry_by_the_import_job(world):
    result = run_import(world, small_bundle())
    [created] = AuditEntry.objects.filter(event=AuditEvent.PATIENT_CREATED)
    assert (created.actor_kind, created.actor_id, created.purpose, str(created.subject_id)) == (
        "system", "fhir-import-job", "treatment", str(result.patient_id))
    assert created.categories == sorted({
        "identifiers.name", "identifiers.dob", "identifiers.demographics", "identifiers.medical_record_number", "contact.email",
        "contact.phone", "contact.address", "health.medications", "health.allergies", "health.conditions", "health.lab_results",
        "health.immunizations", "health.encounters"})  # fmt: skip
    assert "drivers_licence" not in created.fields_changed
    assert list(AuditEntry.objects.exclude(event=AuditEvent.CHAIN_STARTED).values_list("event", flat=True)) == [AuditEvent.PATIENT_CREATED]


def test_reimporting_the_same_bundle_finds_the_patient_and_duplicates_nothing(world):
    first = run_import(world, small_bundle())
    before = chart(world, first.patient_id, *LISTS)
    entries_before = AuditEntry.objects.count()

    again = run_import(world, small_bundle())

    assert (again.patient_id, again.created, again.changed) == (first.patient_id, False, [])
    assert dict(again.imported) == IMPORTED
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.count() == 1
    assert chart(world, first.patient_id, *LISTS) == before  # same items, same ids, nothing added
    new_events = list(AuditEntry.objects.order_by("id").values_list("event", flat=True)[entries_before:])
    assert new_events[0] == AuditEvent.CHART_OPENED and AuditEvent.CHART_CHANGED not in new_events


def test_a_changed_item_replaces_its_earlier_import_in_place_and_new_ones_are_added(world):
    first = run_import(world, small_bundle())
    [old_condition] = chart(world, first.patient_id, "conditions")["conditions"]

    def resolve_and_add(bundle):
        condition = resource_of(bundle, "cond-1")
        condition["clinicalStatus"]["coding"][0]["code"] = "resolved"
        condition["abatementDateTime"] = "2025-01-15"
        extra = json.loads(json.dumps(condition)) | {"id": "cond-2", "code": {"text": "Seasonal allergic rhinitis"}}
        extra.pop("abatementDateTime")
        bundle["entry"].append({"fullUrl": "urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e99", "resource": extra})

    again = run_import(world, variant(resolve_and_add))

    assert again.patient_id == first.patient_id and again.changed == ["conditions"]
    conditions = by_name(chart(world, first.patient_id, "conditions")["conditions"])
    assert conditions["Hypertension"]["id"] == old_condition["id"]
    assert (conditions["Hypertension"]["status"], conditions["Hypertension"]["abatement"]) == ("resolved", "2025-01-15")
    assert conditions["Hypertension"]["recorded_at"] == old_condition["recorded_at"]
    assert set(conditions) == {"Hypertension", "Seasonal allergic rhinitis"}
    changes = AuditEntry.objects.filter(event=AuditEvent.CHART_CHANGED).order_by("id")
    assert [(c.reason, c.fields_changed, c.actor_id) for c in changes] == [
        ("new_entry", ["conditions"], "fhir-import-job"), ("error_correction", ["conditions"], "fhir-import-job")]


def test_items_entered_in_confide_survive_a_reimport(world):
    first = run_import(world, small_bundle())
    clinician = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.a.practice.id):
        mine = do_add_item(actor=clinician, patient_id=first.patient_id, list_name="allergies", item={"substance": "Latex"})
    run_import(world, small_bundle())
    allergies = chart(world, first.patient_id, "allergies")["allergies"]
    assert [a["substance"] for a in allergies] == ["Penicillin", "Latex"] and allergies[1]["id"] == mine["id"]


def _mark(world, patient_id, list_name: str, item_id: str, status: str) -> None:
    from confide.records.services import do_set_item_status

    clinician = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.a.practice.id):
        do_set_item_status(actor=clinician, patient_id=patient_id, list_name=list_name, item_id=item_id, status=status, reason="error_correction")


def _resolve_condition(bundle):
    condition = resource_of(bundle, "cond-1")
    condition["clinicalStatus"]["coding"][0]["code"] = "resolved"
    condition["abatementDateTime"] = "2025-01-15"


def test_rec4_an_item_marked_here_is_not_undone_by_reimporting_the_same_bundle(world):
    first = run_import(world, small_bundle())
    [condition] = chart(world, first.patient_id, "conditions")["conditions"]
    _mark(world, first.patient_id, "conditions", condition["id"], "entered-in-error")

    again = run_import(world, small_bundle())

    assert again.changed == [] and again.kept_local == 0
    [after] = chart(world, first.patient_id, "conditions")["conditions"]
    assert (after["id"], after["status"]) == (condition["id"], "entered-in-error")


def test_rec4_a_source_change_to_an_item_changed_here_keeps_ours_and_is_reported(world):
    first = run_import(world, small_bundle())
    [condition] = chart(world, first.patient_id, "conditions")["conditions"]
    _mark(world, first.patient_id, "conditions", condition["id"], "entered-in-error")
    entries_before = AuditEntry.objects.filter(event=AuditEvent.CHART_CHANGED).count()

    again = run_import(world, variant(_resolve_condition))

    assert again.changed == [] and again.kept_local == 1
    [after] = chart(world, first.patient_id, "conditions")["conditions"]
    assert (after["status"], after.get("abatement")) == ("entered-in-error", None)  # the clinician's word stands
    assert AuditEntry.objects.filter(event=AuditEvent.CHART_CHANGED).count() == entries_before


def test_a_source_change_still_reaches_an_item_nobody_changed_here_after_a_local_mark_elsewhere(world):
    first = run_import(world, small_bundle())
    [medication, *_] = chart(world, first.patient_id, "medications")["medications"]
    _mark(world, first.patient_id, "medications", medication["id"], "stopped")

    again = run_import(world, variant(_resolve_condition))

    assert again.changed == ["conditions"] and again.kept_local == 0
    [condition] = chart(world, first.patient_id, "conditions")["conditions"]
    assert condition["status"] == "resolved"
    assert by_name(chart(world, first.patient_id, "medications")["medications"])[medication["name"]]["status"] == "stopped"


def test_a_changed_demographic_is_a_correction_and_a_new_one_a_new_entry(world):
    first = run_import(world, small_bundle())

    def move(bundle):
        resource_of(bundle, "0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01")["address"][0]["city"] = "Oakland"
        resource_of(bundle, "0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01")["telecom"].append({"system": "phone", "value": "+1 415 555 0178"})

    again = run_import(world, variant(move))
    assert again.changed == ["address", "phone_other"]
    assert chart(world, first.patient_id, "address")["address"]["city"] == "Oakland"
    changes = AuditEntry.objects.filter(event=AuditEvent.CHART_CHANGED).order_by("id")
    assert [(c.reason, c.fields_changed) for c in changes] == [("new_entry", ["phone_other"]), ("error_correction", ["address"])]


def test_an_erased_patient_is_not_brought_back_by_a_reimport(world):
    first = run_import(world, small_bundle())
    with tenant_context(practice_id=world.a.practice.id):
        do_shred_patient(practice_id=world.a.practice.id, patient_id=first.patient_id)
    with pytest.raises(AccessRefused) as refused:
        run_import(world, small_bundle())
    assert refused.value.code == "patient_shredded"
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.count() == 1


# --- bad input: a clear message, nothing written --------------------------------------------------
def _drop_subject_target(bundle):
    resource_of(bundle, "obs-hba1c")["subject"] = {"reference": "urn:uuid:99999999-0000-4000-8000-000000000000"}


def _no_subject(bundle):
    resource_of(bundle, "obs-hba1c").pop("subject")  # optional in FHIR for an Observation (a Condition must have one)


def _bad_date(bundle):
    resource_of(bundle, "0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01")["birthDate"] = "1988-13-45"


def _bad_datetime(bundle):
    resource_of(bundle, "obs-hba1c")["effectiveDateTime"] = "2024-05-06T25:61:00+00:00"


def _two_patients(bundle):
    second = json.loads(json.dumps(bundle["entry"][0]))
    second["fullUrl"], second["resource"]["id"] = "urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9eff", "someone-else"
    bundle["entry"].append(second)


def _delete_request(bundle):
    bundle["entry"][1]["request"] = {"method": "DELETE", "url": "Condition/cond-1"}


def _unknown_type(bundle):
    bundle["entry"].append({"resource": {"resourceType": "Banana", "id": "b"}})


def _searchset(bundle):
    bundle["type"] = "searchset"


def _nameless(bundle):
    bundle["entry"][0]["resource"]["name"] = [{"use": "official", "family": "Oyelaran"}]


BAD = {
    "invalid JSON": (b'{"resourceType": "Bundle", "type": "transaction", "entry": [', "not valid JSON: Expecting value at line 1 column 61"),
    "not UTF-8": (b'{"resourceType": "Bundle" \xff}', "not valid JSON: the file is not UTF-8 text"),
    "wrong resourceType": (b'{"resourceType": "Patient", "id": "x"}', "not a FHIR Bundle: resourceType is 'Patient'"),
    "not an object": (b"[1, 2]", "not a FHIR resource: the JSON is not an object"),
    "a searchset": (as_bytes(variant(_searchset)), "a Bundle of type 'searchset': only transaction and collection bundles are imported"),
    "missing reference": (as_bytes(variant(_drop_subject_target)), "entry 3 (Observation) refers to a patient not in the bundle: the bundle is not imported"),
    "no subject": (as_bytes(variant(_no_subject)), "entry 3 (Observation) names no patient: the bundle is not imported"),
    "invalid date": (as_bytes(variant(_bad_date)), "not valid FHIR R4B: entry 0 (Patient) birthDate: not a valid FHIR date"),
    "invalid dateTime": (as_bytes(variant(_bad_datetime)), "not valid FHIR R4B: entry 3 (Observation) effectiveDateTime: not a valid FHIR datetime"),
    "two patients": (as_bytes(variant(_two_patients)), "the bundle holds 2 Patient resources: an import takes one patient's record per bundle"),
    "a DELETE": (as_bytes(variant(_delete_request)), "entry 1 (Condition) is a DELETE request: imports only add and replace"),
    "unknown type": (as_bytes(variant(_unknown_type)), "entry 12: 'Banana' is not a FHIR R4B resource type"),
    "no given name": (as_bytes(variant(_nameless)), "entry 0 (Patient) has no official name with given and family parts: a chart needs both"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD), ids=lambda c: c.replace(" ", "-"))
def test_a_bad_bundle_is_refused_with_a_clear_message_and_writes_nothing(world, tmp_path, case):
    raw, message = BAD[case]
    path = tmp_path / "bundle.json"
    path.write_bytes(raw)
    with pytest.raises(fhir.BundleRefused) as refused:
        fhir.import_bundle_file(path, practice_id=world.a.practice.id)
    assert str(refused.value) == message
    with tenant_context(practice_id=world.a.practice.id):
        assert not Patient.objects.exists()
    assert not AuditEntry.objects.filter(practice_id=world.a.practice.id).exclude(event=AuditEvent.CHAIN_STARTED).exists()


def test_an_oversized_bundle_is_refused_before_it_is_read(world, tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(as_bytes(small_bundle()))
    with override_settings(CONFIDE_FHIR_MAX_BUNDLE_BYTES=1024 * 1024), pytest.raises(fhir.BundleRefused) as big:
        path.write_bytes(b" " * (1024 * 1024 + 1))  # padding: only the size is looked at
        fhir.import_bundle_file(path, practice_id=world.a.practice.id)
    assert str(big.value) == "the file is 1.0 MB, over the 1.0 MB limit (CONFIDE_FHIR_MAX_BUNDLE_BYTES)"
    with tenant_context(practice_id=world.a.practice.id):
        assert not Patient.objects.exists()
    assert not AuditEntry.objects.exclude(event=AuditEvent.CHAIN_STARTED).exists()  # but the practices' genesis entries


def test_a_bad_item_refuses_the_whole_bundle_of_a_known_patient_and_changes_nothing(world):
    first = run_import(world, small_bundle())
    before = chart(world, first.patient_id, *LISTS)

    def overlong(bundle):
        resource_of(bundle, "medreq-1")["medicationCodeableConcept"]["text"] = "x" * 301
        resource_of(bundle, "cond-1")["clinicalStatus"]["coding"][0]["code"] = "resolved"

    with pytest.raises(fhir.BundleRefused) as refused:
        run_import(world, variant(overlong))
    assert str(refused.value) == "1 value refused: entry 5 (MedicationRequest) medicationCodeableConcept: at most 300 characters."
    assert chart(world, first.patient_id, *LISTS) == before


def test_refusal_messages_never_echo_values_from_the_bundle(world):
    def leak(bundle):
        resource_of(bundle, "obs-hba1c")["Temitope Oyelaran"] = "1961-07-23"

    with pytest.raises(fhir.BundleRefused) as refused:
        run_import(world, variant(leak))
    assert "Temitope" not in str(refused.value) and "1961" not in str(refused.value)
    assert str(refused.value).startswith("not valid FHIR R4B: entry 3 (Observation) ?:")


# --- the Synthea sample -------------------------------------------------------------------------------
@pytest.mark.synthea
def test_every_synthea_bundle_imports_and_a_second_run_changes_nothing(world):
    files = need_synthea()
    summary = fhir.ImportSummary()
    for path in files:
        summary.add(fhir.import_bundle_file(path, practice_id=world.a.practice.id))
    assert (summary.files, summary.refused, summary.created) == (38, 0, 38)
    assert summary.imported["Patient"] == 38 and summary.imported["Observation"] == 2619
    assert summary.skipped_types["Claim"] == 586 and summary.skipped_fields["Patient.identifier[DL]"] == 34
    again = fhir.ImportSummary()
    for path in files:
        again.add(fhir.import_bundle_file(path, practice_id=world.a.practice.id))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 38)
    assert again.imported == summary.imported
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.count() == 38


@pytest.mark.parametrize("depth", [100, 100_000])
def test_sec3_json_nested_deeper_than_the_limit_is_refused_naming_it(world, tmp_path, depth):
    bundle = as_bytes(small_bundle())
    nested = bundle.replace(b'"resourceType"', b'"extension": ' + b"[" * depth + b"]" * depth + b', "resourceType"', 1)
    path = tmp_path / "deep.json"
    path.write_bytes(nested)
    with pytest.raises(fhir.BundleRefused) as refused:
        fhir.import_bundle_file(path, practice_id=world.a.practice.id)
    assert str(refused.value) == "not valid here: JSON nested deeper than the limit of 64 levels (line 1)"
    with tenant_context(practice_id=world.a.practice.id):
        assert not Patient.objects.exists()
