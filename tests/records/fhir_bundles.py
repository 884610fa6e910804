"""FHIR bundles for the import and export tests: a small synthetic one made up here (no real
person), and the Synthea sample bundles read from ../shared/data/synthea-r4 when present."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-r4"
SYNTHEA_MISSING = f"{SYNTHEA} is absent (a clone outside the workspace): the Synthea bundle tests need it"

PATIENT_URL = "urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01"
ENCOUNTER_URL = "urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e02"
SUBJECT = {"reference": PATIENT_URL}


def synthea_files() -> list[Path]:
    return sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []


def need_synthea() -> list[Path]:
    files = synthea_files()
    if not files:
        pytest.skip(SYNTHEA_MISSING)
    return files


def _entry(url: str, resource: dict) -> dict:
    return {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def small_bundle() -> dict:
    """One made-up patient with one resource of each imported type, and a Claim (skipped)."""
    patient = {
        "resourceType": "Patient", "id": "0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01",
        "identifier": [
            {"system": "https://example.test/ids", "value": "0c5e7f0a"},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "MRN-7781"},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DL"}]}, "value": "DL-FAKE-4411"},
        ],
        "name": [{"use": "official", "family": "Oyelaran", "given": ["Temitope", "Ada"]}, {"use": "usual", "given": ["Temi"]}],
        "telecom": [{"system": "phone", "value": "+1 415 555 0177", "use": "mobile"}, {"system": "email", "value": "temi.o@example.test"}],
        "gender": "female", "birthDate": "1988-04-17",
        "address": [{"use": "home", "line": ["9 Larch Way"], "city": "Berkeley", "state": "CA", "postalCode": "94703", "country": "US"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "yo"}]}}],
        "maritalStatus": {"text": "Married"},
    }  # fmt: skip
    resources = [
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e03", {
            "resourceType": "Condition", "id": "cond-1",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}], "text": "Hypertension"},
            "subject": SUBJECT, "onsetDateTime": "2019-03-02T10:00:00+00:00", "recordedDate": "2019-03-02T10:00:00+00:00"}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e04", {
            "resourceType": "Observation", "id": "obs-bp", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "55284-4", "display": "Blood pressure"}]},
            "subject": SUBJECT, "effectiveDateTime": "2024-05-06T09:30:00+00:00",
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
                 "valueQuantity": {"value": 138, "unit": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}]},
                 "valueQuantity": {"value": 88, "unit": "mm[Hg]"}},
            ]}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e05", {
            "resourceType": "Observation", "id": "obs-hba1c", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]},
            "subject": SUBJECT, "effectiveDateTime": "2024-05-06T09:30:00+00:00", "valueQuantity": {"value": 6.1, "unit": "%"}}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e06", {
            "resourceType": "Observation", "id": "obs-smoking", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "social-history"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2", "display": "Tobacco smoking status"}]},
            "subject": {"reference": "Patient/0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01"}, "effectiveDateTime": "2024-05-06T09:30:00+00:00",
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "266919005", "display": "Never smoker"}]}}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e07", {
            "resourceType": "MedicationRequest", "id": "medreq-1", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076",
                                                      "display": "lisinopril 10 MG Oral Tablet"}]},
            "subject": SUBJECT, "authoredOn": "2019-03-02",
            "dosageInstruction": [{"text": "10 mg once daily", "route": {"text": "oral"}}]}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e08", {
            "resourceType": "MedicationStatement", "id": "medstmt-1", "status": "active",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "198440",
                                                      "display": "Acetaminophen 500 MG Oral Tablet"}]},
            "subject": SUBJECT, "effectivePeriod": {"start": "2023-01-10"}, "dosage": [{"text": "500 mg as needed"}]}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e09", {
            "resourceType": "AllergyIntolerance", "id": "allergy-1",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "category": ["medication"], "criticality": "high",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}]},
            "patient": SUBJECT, "recordedDate": "2015-07-01T12:00:00+00:00",
            "reaction": [{"manifestation": [{"text": "hives"}]}]}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e10", {
            "resourceType": "Immunization", "id": "imm-1", "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140", "display": "Influenza, seasonal"}]},
            "patient": SUBJECT, "occurrenceDateTime": "2024-10-01T10:00:00+00:00", "lotNumber": "LOT-22"}),
        (ENCOUNTER_URL, {
            "resourceType": "Encounter", "id": "enc-1", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003", "display": "Check up"}]}],
            "subject": SUBJECT, "period": {"start": "2024-05-06T09:00:00+00:00", "end": "2024-05-06T09:40:00+00:00"},
            "reasonCode": [{"text": "annual review"}]}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e11", {
            "resourceType": "Procedure", "id": "proc-1", "status": "completed",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "46973005", "display": "Blood pressure taking"}]},
            "subject": SUBJECT, "encounter": {"reference": ENCOUNTER_URL},
            "performedPeriod": {"start": "2024-05-06T09:30:00+00:00", "end": "2024-05-06T09:35:00+00:00"}}),
        ("urn:uuid:0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e12", {
            "resourceType": "Claim", "id": "claim-1", "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "use": "claim", "patient": SUBJECT, "created": "2024-05-06",
            "provider": {"display": "Made-up clinic"}, "priority": {"coding": [{"code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Made-up cover"}}]}),
    ]  # fmt: skip
    entries = [_entry(PATIENT_URL, patient)] + [_entry(url, resource) for url, resource in resources]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def resource_of(bundle: dict, resource_id: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == resource_id)


def variant(change) -> dict:
    """small_bundle() changed by `change(bundle)` (which edits it in place)."""
    bundle = copy.deepcopy(small_bundle())
    change(bundle)
    return bundle


def as_bytes(bundle: dict) -> bytes:
    return json.dumps(bundle).encode()
