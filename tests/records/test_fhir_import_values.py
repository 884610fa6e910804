"""Issue 11 item 15: the FHIR import refuses the values the web forms refuse — control
characters, bidi overrides, invisible-only names, malformed e-mail addresses, over-long values
(refused, never cut) — with the same rules (records/services.py::clean_fields and the clinical
models), reports each refused value by entry, resource type and element path without the value,
and imports nothing of that bundle."""

from __future__ import annotations

import pytest

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.records import fhir
from confide.records.models import Patient
from tests.records.fhir_bundles import resource_of, small_bundle, variant
from tests.records.test_fhir_import import chart, run_import

PATIENT_ID = "0c5e7f0a-1d2b-4c3d-8e4f-5a6b7c8d9e01"


def _patient(bundle) -> dict:
    return resource_of(bundle, PATIENT_ID)


def _given(value):
    return lambda b: _patient(b)["name"][0].__setitem__("given", [value])


def _family(value):
    return lambda b: _patient(b)["name"][0].__setitem__("family", value)


def _telecom(system, value):
    def change(bundle):
        entry = next(t for t in _patient(bundle)["telecom"] if t["system"] == system)
        entry["value"] = value

    return change


def _medication_text(value):
    return lambda b: resource_of(b, "medreq-1")["medicationCodeableConcept"].__setitem__("text", value)


def _component_text(value):
    return lambda b: resource_of(b, "obs-bp")["component"][0]["code"].__setitem__("text", value)


def _address_line(value):
    return lambda b: _patient(b)["address"][0].__setitem__("line", [value])


CASES = {
    "NUL in a given name": (_given("Temi\x00tope"), "entry 0 (Patient) name.given: remove the invisible control character it contains."),
    "an RTL override in the family name": (_family("Oyel\u202earan"), "entry 0 (Patient) name.family: remove the invisible character that reverses the direction of the text."),
    "a zero-width-only given name": (_given("\u200b\u200d"), "entry 0 (Patient) name.given: it holds only invisible characters."),
    "a 301-character given name": (_given("T" * 301), "entry 0 (Patient) name.given: at most 300 characters."),
    "a NUL inside an e-mail address": (_telecom("email", "a@b\x00.c"), "entry 0 (Patient) telecom[email].value: remove the invisible control character it contains."),
    "an e-mail address that is not one": (_telecom("email", "not-an-address"), "entry 0 (Patient) telecom[email].value: enter an email address such as name@example.org."),
    "a line break in a phone number": (_telecom("phone", "+1 415\n555 0177"), "entry 0 (Patient) telecom[phone].value: it must be one line: remove the line break."),
    "a line break in an address line": (_address_line("9 Larch Way\r\nBcc: x"), "entry 0 (Patient) address.line[0]: it must be one line: remove the line break."),
    "an RTL override in a medication": (_medication_text("lisinopril \u202e01 gm"), "entry 5 (MedicationRequest) medicationCodeableConcept: remove the invisible character that reverses the direction of the text."),
    "a 301-character medication": (_medication_text("x" * 301), "entry 5 (MedicationRequest) medicationCodeableConcept: at most 300 characters."),
    "a line break in a result's component": (_component_text("Systolic\nBP"), "entry 2 (Observation) component[0].code: it must be one line: remove the line break."),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_value_the_forms_refuse_refuses_the_bundle_by_resource_and_path_and_nothing_is_written(world, case):
    change, message = CASES[case]
    bundle = variant(change)
    with pytest.raises(fhir.BundleRefused) as refused:
        run_import(world, bundle)
    assert str(refused.value) == f"1 value refused: {message}"
    with tenant_context(practice_id=world.a.practice.id):
        assert not Patient.objects.exists()
    assert not AuditEntry.objects.filter(chain=str(world.a.practice.id)).exclude(event=AuditEvent.CHAIN_STARTED).exists()


def test_every_refused_value_of_a_bundle_is_reported_never_the_values_themselves(world):
    def many(bundle):
        _given("Temi\x00tope")(bundle)
        _telecom("email", "a@b\x00.c")(bundle)
        _medication_text("lisinopril \u202e01 gm")(bundle)
        resource_of(bundle, "allergy-1")["reaction"][0]["manifestation"][0]["text"] = "hives\x1b[2J"
        resource_of(bundle, "enc-1")["reasonCode"][0]["text"] = "\u2066annual review\u2069"

    with pytest.raises(fhir.BundleRefused) as refused:
        run_import(world, variant(many))
    message = str(refused.value)
    assert message.startswith("5 values refused: ")
    for where in ("entry 0 (Patient) name.given", "entry 0 (Patient) telecom[email].value",
                  "entry 5 (MedicationRequest) medicationCodeableConcept", "entry 7 (AllergyIntolerance) reaction.manifestation",
                  "entry 9 (Encounter) reasonCode"):  # fmt: skip
        assert where in message
    for value in ("Temi", "a@b", "lisinopril", "hives", "annual"):
        assert value not in message
    with tenant_context(practice_id=world.a.practice.id):
        assert not Patient.objects.exists()


def test_a_refused_value_in_a_reimport_changes_nothing_of_the_known_patient(world):
    first = run_import(world, small_bundle())
    before = chart(world, first.patient_id, "given_name", "email", "medications")
    with pytest.raises(fhir.BundleRefused):
        run_import(world, variant(_given("Temi\u202etope")))
    assert chart(world, first.patient_id, "given_name", "email", "medications") == before


def test_a_name_at_the_limit_is_imported_whole_and_real_text_in_any_script_is_kept(world):
    def fine(bundle):
        _given("T" * 300)(bundle)
        _family("\u05d0\u05d5\u05d9\u05dc\u05e8\u05df \u200f")(bundle)  # Hebrew with a right-to-left mark

    result = run_import(world, variant(fine))
    names = chart(world, result.patient_id, "given_name", "family_name")
    assert names == {"given_name": "T" * 300, "family_name": "\u05d0\u05d5\u05d9\u05dc\u05e8\u05df \u200f".strip()}


def test_a_results_reference_range_is_kept_as_people_write_it():
    from confide.records.fhir import _range_text

    assert _range_text([{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.0, "unit": "mmol/L"}}]) == "3.5–5 mmol/L"
    assert _range_text([{"high": {"value": 200, "unit": "mg/dL"}}]) == "below 200 mg/dL"
    assert _range_text([{"low": {"value": 60, "code": "mL/min/{1.73_m2}"}}]) == "above 60 mL/min/1.73 m²"
    assert _range_text([{"text": "Negative"}]) == "Negative"
    assert _range_text(None) == "" and _range_text([{}]) == ""
