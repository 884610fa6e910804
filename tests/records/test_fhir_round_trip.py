"""Import a bundle, export the chart, compare: per resource type, the counts, the codes (system
and code), the values with their units, and the dates, at the precision the chart keeps them
(a day for onset, authoredOn and occurrence; the instant for effective, period and performed)."""

from __future__ import annotations

import datetime
import json
from collections import Counter

import pytest

from confide.records import fhir
from tests.records.fhir_bundles import as_bytes, need_synthea, small_bundle

MAPPED = sorted(fhir.IMPORTED_TYPES)


def _code(concept: dict | None) -> tuple:
    codings = [c for c in (concept or {}).get("coding") or [] if c.get("code") or c.get("display")]
    return (codings[0].get("system"), codings[0].get("code")) if codings else (None, None)


def _day(value: str | None):
    if not value:
        return None
    return value[:10]  # as written: a dateTime's calendar day in its own offset


def _instant(value: str | None):
    if not value:
        return None
    if len(value) == 10:
        return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC)
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _value(r: dict) -> tuple:
    if "valueQuantity" in r:
        q = r["valueQuantity"]
        return ("quantity", float(q["value"]), q.get("unit") or q.get("code"))
    if "valueCodeableConcept" in r:
        return ("coded", *_code(r["valueCodeableConcept"]))
    if "valueString" in r:
        return ("string", r["valueString"])
    return ()


def signature(r: dict) -> tuple:
    """What must survive the round trip, per resource type."""
    kind = r["resourceType"]
    if kind == "Patient":
        return (r.get("gender"), r.get("birthDate"))
    if kind == "Condition":
        status = ((r.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
        return (_code(r["code"]), status, _day(r.get("onsetDateTime")), _day(r.get("abatementDateTime")), _instant(r.get("recordedDate")))
    if kind == "AllergyIntolerance":
        return (_code(r["code"]), tuple(r.get("category") or ()), r.get("criticality"), _instant(r.get("recordedDate")))
    if kind == "MedicationRequest":
        return (_code(r["medicationCodeableConcept"]), r["status"], _day(r.get("authoredOn")))
    if kind == "MedicationStatement":
        return (_code(r["medicationCodeableConcept"]), r["status"], _day((r.get("effectivePeriod") or {}).get("start")))
    if kind == "Observation":
        components = tuple((_code(c["code"]), _value(c)) for c in r.get("component") or [])
        category = ((r.get("category") or [{}])[0].get("coding") or [{}])[0].get("code")
        return (_code(r["code"]), category, r["status"], _value(r), components, _instant(r.get("effectiveDateTime")))
    if kind == "Immunization":
        return (_code(r["vaccineCode"]), r["status"], _day(r.get("occurrenceDateTime")), r.get("lotNumber"))
    if kind == "Encounter":
        period = r.get("period") or {}
        return (r["class"].get("code"), _code((r.get("type") or [None])[0]), r["status"], _instant(period.get("start")), _instant(period.get("end")))
    if kind == "Procedure":
        performed = r.get("performedDateTime") or (r.get("performedPeriod") or {}).get("start")
        return (_code(r["code"]), r["status"], _instant(performed))
    raise AssertionError(kind)


def signatures(bundle: dict) -> dict[str, Counter]:
    found: dict[str, Counter] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in fhir.IMPORTED_TYPES:
            found.setdefault(resource["resourceType"], Counter())[signature(resource)] += 1
    return found


def round_trip(world, tmp_path, source: dict) -> dict:
    result = fhir.import_bundle(fhir.parse_bundle(as_bytes(source)), practice_id=world.a.practice.id)
    out = tmp_path / "export.json"
    fhir.do_export_patient(result.patient_id, out)
    return json.loads(out.read_text())


def assert_same(source: dict, exported: dict) -> None:
    expected, got = signatures(source), signatures(exported)
    assert sorted(got) == sorted(expected)
    for kind in expected:
        assert sum(got[kind].values()) == sum(expected[kind].values()), f"{kind}: count"
        assert got[kind] == expected[kind], f"{kind}: {sorted(expected[kind] - got[kind], key=str)[:3]} became {sorted(got[kind] - expected[kind], key=str)[:3]}"


def test_the_small_bundle_survives_import_and_export(world, tmp_path):
    source = small_bundle()
    exported = round_trip(world, tmp_path, source)
    assert_same(source, exported)
    assert {e["resource"]["resourceType"] for e in exported["entry"]} == set(MAPPED)  # the Claim stayed behind


@pytest.mark.synthea
def test_a_synthea_bundle_survives_import_and_export_type_by_type(world, tmp_path):
    files = need_synthea()
    # The record with the most kinds of resource in it (allergies, medications, components …).
    source = max((json.loads(p.read_bytes()) for p in files[:12]), key=lambda b: (len(signatures(b)), len(b["entry"])))
    exported = round_trip(world, tmp_path, source)
    assert_same(source, exported)
    assert {"AllergyIntolerance", "MedicationRequest", "Observation", "Procedure"} <= set(signatures(exported))


@pytest.mark.synthea
def test_every_synthea_record_survives_import_and_export(world, tmp_path):
    for path in need_synthea():
        source = json.loads(path.read_bytes())
        assert_same(source, round_trip(world, tmp_path, source))
