"""FHIR in and out of the chart: `confide fhir import` (continuity of care) and `confide fhir
export` (RTS2, the patient's portable copy).

    result = import_bundle_file(path, practice_id=…)        # one bundle, one transaction
    result = do_export_patient(patient_id, out_path)        # a collection Bundle, mode 0600

Both act as registered system jobs through the chart door (`FHIR_IMPORT_JOB`, purpose
treatment; `FHIR_EXPORT_JOB`, purpose patient_request), so the door writes their audit entries
and refuses anything outside the jobs' declared categories.

Import, in order, all before anything is written:
1. the file: at most `CONFIDE_FHIR_MAX_BUNDLE_BYTES`, JSON, a `Bundle` of type transaction or
   collection, valid against the `fhir.resources` R4B models (R4B ≈ R4 for every resource we
   read; docs/architecture.md says why R4B) — dates included;
2. exactly one Patient; every mapped resource's subject (or patient) reference resolves to it
   inside the bundle (`urn:uuid:…` full URLs, `Type/id`), else the bundle is refused;
3. each mapped resource becomes a `clinical` item, validated like any other entry; resources
   of other types (Claim, DiagnosticReport, Organization …) are counted and skipped; Patient
   fields Confide does not take (SSN, passport, the driver's licence — not in the import
   job's categories, so never stored) are counted as skipped fields.
Then one transaction: `create_chart` for a patient not seen before, else `open_chart` with the
fields changed recorded (REC4: a field filled or an item added is `new_entry`; an imported item
that the source now says differently is `error_correction`, the source having corrected its
record). A refusal anywhere leaves no half patient.

Idempotent: the patient and every item carry `source_key` = HMAC(practice index key,
"fhir:<system>:<Type>/<id>") (vault/blind_index.py::source_keyer), never the source's id. A
re-import finds the patient by it, replaces each item with the same key (keeping Confide's
item id), and adds the rest; items entered in Confide, or no longer in the bundle, stay. Each
imported item also carries `source_digest`, a hash of what the source sent: an item the source
sends unchanged is left alone (a medication stopped here stays stopped), and one the source
changed but that was changed here since the last import keeps the change made here (counted as
`kept_local`; a clinician's correction outranks the other system's copy).

Messages and results carry entry numbers, resource types, ids and counts: never a value.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import os
import re
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from pydantic import ValidationError

from confide.access.door import FHIR_EXPORT_JOB, FHIR_IMPORT_JOB, create_chart, open_chart, open_psychotherapy_notes_for_release
from confide.access.errors import AccessRefused
from confide.access.policy import NOTES
from confide.core.purposes import Purpose
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput, NotFound
from confide.core.models import Practice
from confide.core.nesting import TooDeeplyNested, check_json_text
from confide.core.tenancy import tenant_context
from confide.records import clinical
from confide.records.models import Addendum, NoteStatus, NoteTemplate, Patient, ProgressNote
from confide.records.notes import SOAP_SECTIONS
from confide.records.values import unit_for_display
from confide.records.services import _categories_for_change, _category, _index, check_fields, clean_fields
from confide.vault.blind_index import source_keyer

logger = logging.getLogger(__name__)

# What names the source of ids when the operator does not: resource ids are unique within one
# server, so bundles from two systems whose ids may collide are imported with --source-system.
DEFAULT_SOURCE_SYSTEM = "urn:confide:fhir-import"
BUNDLE_TYPES = frozenset({"transaction", "collection"})
# FHIR resource type → the chart list it lands in.
LIST_OF = {
    "AllergyIntolerance": "allergies",
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "MedicationStatement": "medications",
    "Observation": "lab_results",
    "Immunization": "immunizations",
    "Encounter": "encounters",
    "Procedure": "procedures",
}
IMPORTED_TYPES = frozenset({"Patient", *LIST_OF})
# The element naming the patient, per type (AllergyIntolerance and Immunization say `patient`).
SUBJECT = {t: "patient" if t in ("AllergyIntolerance", "Immunization") else "subject" for t in LIST_OF}

# Code systems of the export.
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_NULL = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
BCP47 = "urn:ietf:bcp:47"
LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
# Confide's own: an over-the-counter medication exports as a MedicationStatement carrying this
# category, so it comes back as OTC rather than as "unknown" (FHIR has no OTC flag).
MEDICATION_KIND = "urn:confide:medication-kind"
# A medication the patient told us about (an online consultation) is a statement the patient made:
# MedicationStatement.category "patientspecified", the patient as its informationSource.
MEDICATION_STATEMENT_CATEGORY = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
# The practice's consultation form, as the canonical a QuestionnaireResponse names (with its version).
INTAKE_QUESTIONNAIRE = "urn:confide:questionnaire:online-consultation"

FHIR_GENDERS = frozenset({"male", "female", "other", "unknown"})
# Encounter.class (v3 ActCode) ↔ the words the chart uses.
ENCOUNTER_CLASS = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient", "ACUTE": "inpatient", "VR": "virtual",
                   "HH": "home", "OBSENC": "observation", "PRENC": "pre-admission", "SS": "short-stay", "FLD": "field"}  # fmt: skip
ENCOUNTER_CLASS_CODE = {word: code for code, word in reversed(ENCOUNTER_CLASS.items())}
# FHIR statuses the chart does not have → the nearest it does.
MEDICATION_STATUS = {"cancelled": "stopped", "draft": "unknown", "intended": "unknown", "not-taken": "stopped"}
ENCOUNTER_STATUS = {"triaged": "arrived", "onleave": "in-progress"}


class BundleRefused(InvalidInput):
    """A bundle that is not imported at all. The message says why, with entry numbers and
    resource types, never a value from the bundle."""


def _refuse(message: str):
    raise BundleRefused(message)


# --- reading a bundle ---------------------------------------------------------------------------
def bundle_files(paths) -> list[Path]:
    """The files named, and the `.json` files directly inside the directories named, in order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file()))
        else:
            files.append(path)
    return files


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def read_bundle_file(path: Path) -> dict:
    """The file's bundle, checked (see parse_bundle); the size is checked before reading."""
    limit = settings.CONFIDE_FHIR_MAX_BUNDLE_BYTES
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BundleRefused(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if size > limit:
        _refuse(f"the file is {_megabytes(size)}, over the {_megabytes(limit)} limit (CONFIDE_FHIR_MAX_BUNDLE_BYTES)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BundleRefused(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    return parse_bundle(raw)


def parse_bundle(raw: bytes) -> dict:
    """JSON → a dict that is a valid R4B Bundle of type transaction or collection, else
    BundleRefused saying what is wrong and where."""
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    limit = settings.CONFIDE_FHIR_MAX_BUNDLE_BYTES
    if len(raw) > limit:  # the file grew after its size was checked, or bytes came from elsewhere
        _refuse(f"the bundle is {_megabytes(len(raw))}, over the {_megabytes(limit)} limit (CONFIDE_FHIR_MAX_BUNDLE_BYTES)")
    try:
        check_json_text(raw)  # json and the R4B models recurse per level: past the limit, refuse first
    except TooDeeplyNested as exc:
        raise BundleRefused(f"not valid here: {exc} (line {exc.line})") from None
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise BundleRefused("not valid JSON: the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BundleRefused(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        _refuse("not a FHIR resource: the JSON is not an object")
    kind = data.get("resourceType")
    if kind != "Bundle":
        _refuse(f"not a FHIR Bundle: resourceType is {_type_name(kind)}")
    if data.get("type") not in BUNDLE_TYPES:
        _refuse(f"a Bundle of type {_type_name(data.get('type'))}: only transaction and collection bundles are imported")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        _refuse("not valid FHIR R4B: Bundle.entry is not a list")
    for n, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            _refuse(f"entry {n} holds no resource")
        try:
            get_fhir_model_class(str(resource.get("resourceType")))
        except (ValueError, KeyError):
            _refuse(f"entry {n}: {_type_name(resource.get('resourceType'))} is not a FHIR R4B resource type")
        method = (entry.get("request") or {}).get("method") if isinstance(entry.get("request"), dict) else None
        if method in ("DELETE", "PATCH"):
            _refuse(f"entry {n} ({resource['resourceType']}) is a {method} request: imports only add and replace")
    try:
        Bundle.model_validate(data)
    except ValidationError as exc:
        raise BundleRefused(f"not valid FHIR R4B: {_where(exc, data)}") from None
    return data


def _type_name(value) -> str:
    # Only something shaped like a resource type is echoed back; anything else could be data.
    return repr(value) if isinstance(value, str) and re.fullmatch(r"[A-Za-z-]{1,64}", value) else "not a resource type"


def _where(exc: ValidationError, data: dict) -> str:
    """'entry 3 (Patient) birthDate: not a valid FHIR date' from the first pydantic error."""
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    loc = list(error["loc"])
    where = "Bundle"
    if len(loc) >= 3 and loc[0] == "entry" and isinstance(loc[1], int) and loc[2] == "resource":
        n = loc[1]
        where = f"entry {n} ({data['entry'][n]['resource'].get('resourceType')})"
        loc = loc[3:]
    # A key the model does not know is part of the location: echo only what looks like a name.
    path = ".".join(str(part) if re.fullmatch(r"[A-Za-z0-9_\[\]-]{1,64}", str(part)) else "?" for part in loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    if "does not match spec regex" in message:
        kind = message.split(" value string", 1)[0]  # Date, DateTime, Instant, Time, Id, …
        message = f"not a valid FHIR {kind.lower()}" if kind in ("Date", "DateTime", "Instant", "Time") else f"not a valid FHIR {kind}"
    return f"{where} {path}: {message}" if path else f"{where}: {message}"


# --- FHIR values → the chart's --------------------------------------------------------------------
_PARTIAL = object()  # a date of year or year-month precision: the chart keeps days at least


def _parse_when(value) -> datetime.date | datetime.datetime | object | None:
    """A FHIR date/dateTime/instant string (already validated) → date or aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) < 10:
        return _PARTIAL
    if len(value) == 10:
        return datetime.date.fromisoformat(value)
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _coding(coding: dict | None) -> dict | None:
    if not coding or not (coding.get("code") or coding.get("display")):
        return None
    return {"system": coding.get("system") or "", "code": coding.get("code") or "", "display": coding.get("display") or ""}


@dataclass
class _Mapper:
    """One bundle's mapping: references, source keys, and what was left out."""

    bundle: dict
    keyed: object  # source_keyer(practice_id)
    system: str
    skipped_fields: Counter = field(default_factory=Counter)
    refused: list = field(default_factory=list)  # "entry n (Type) element.path: why", never the value
    _refs: dict = field(default_factory=dict)

    def __post_init__(self):
        for n, entry in enumerate(self.bundle.get("entry") or []):
            resource = entry["resource"]
            if entry.get("fullUrl"):
                self._refs[entry["fullUrl"]] = n
            if resource.get("id"):
                self._refs[f"{resource['resourceType']}/{resource['id']}"] = n

    def resolve(self, reference: dict | None) -> int | None:
        """The entry number a reference points at, inside this bundle, or None."""
        ref = (reference or {}).get("reference")
        if not isinstance(ref, str) or not ref:
            return None
        if ref in self._refs:
            return self._refs[ref]
        parts = ref.rstrip("/").split("/")  # an absolute URL ending in …/Type/id
        if len(parts) >= 2 and f"{parts[-2]}/{parts[-1]}" in self._refs:
            return self._refs[f"{parts[-2]}/{parts[-1]}"]
        return None

    def source_key(self, n: int) -> str:
        entry = self.bundle["entry"][n]
        resource = entry["resource"]
        if resource.get("id"):
            return self.keyed(f"fhir:{self.system}:{resource['resourceType']}/{resource['id']}")
        if entry.get("fullUrl"):
            return self.keyed(f"fhir:{self.system}:{entry['fullUrl']}")
        _refuse(f"entry {n} ({resource['resourceType']}) has neither an id nor a fullUrl: a re-import could not find it again")

    def skip(self, what: str) -> None:
        self.skipped_fields[what] += 1

    def refuse_value(self, n: int, kind: str, path: str, message: str) -> None:
        """A value the chart's rule for its field refuses: reported with the others once the
        whole bundle has been read, and the bundle is not imported."""
        self.refused.append(f"entry {n} ({kind}) {path}: {message}" if path else f"entry {n} ({kind}): {message}")

    def concept(self, kind: str, concept: dict | None, fallback: str = "") -> tuple[str, dict | None]:
        """(name, first coding) of a CodeableConcept; further codings are counted as skipped."""
        concept = concept or {}
        codings = [c for c in concept.get("coding") or [] if c.get("code") or c.get("display")]
        if len(codings) > 1:
            self.skip(f"{kind}: codings after the first")
        first = _coding(codings[0]) if codings else None
        name = concept.get("text") or (first and (first["display"] or first["code"])) or fallback
        return name or "(not named in the source)", first

    def date(self, kind: str, value) -> datetime.date | None:
        when = _parse_when(value)
        if when is _PARTIAL:
            self.skip(f"{kind} (year or month precision)")
            return None
        return when.date() if isinstance(when, datetime.datetime) else when

    def instant(self, kind: str, value) -> datetime.datetime | None:
        when = _parse_when(value)
        if when is _PARTIAL:
            self.skip(f"{kind} (year or month precision)")
            return None
        if isinstance(when, datetime.date) and not isinstance(when, datetime.datetime):
            return datetime.datetime.combine(when, datetime.time(), tzinfo=datetime.UTC)  # a day: kept as its midnight UTC
        return when


# --- the Patient ----------------------------------------------------------------------------------
_PATIENT_TAKEN = {"resourceType", "id", "meta", "text", "name", "birthDate", "gender", "communication", "identifier", "telecom", "address"}


def _patient_fields(m: _Mapper, n: int, resource: dict) -> dict:
    for key in resource:
        if key not in _PATIENT_TAKEN:
            m.skip(f"Patient.{key}")
    names = [name for name in resource.get("name") or [] if isinstance(name, dict)]
    official = next((x for x in names if x.get("use") == "official"), None) or next(
        (x for x in names if x.get("use") in (None, "usual")), None
    )
    if official is None or not official.get("given") or not official.get("family"):
        _refuse(f"entry {n} (Patient) has no official name with given and family parts: a chart needs both")
    fields = {"given_name": " ".join(official["given"]), "family_name": official["family"]}
    usual = next((x for x in names if x.get("use") == "usual" and x is not official), None)
    if usual and (usual.get("given") or usual.get("text")):
        fields["preferred_name"] = " ".join(usual.get("given") or []) or usual["text"]
    for other in names:
        if other is not official and other is not usual:
            m.skip(f"Patient.name[{other.get('use') or 'unnamed use'}]")
    if official.get("prefix") or official.get("suffix"):
        m.skip("Patient.name.prefix/suffix")
    birth = m.date("Patient.birthDate", resource.get("birthDate"))
    if birth is not None:
        fields["date_of_birth"] = birth
    if resource.get("gender"):
        fields["sex"] = resource["gender"]
    languages = resource.get("communication") or []
    spoken = next((c for c in languages if c.get("preferred")), languages[0] if languages else None)
    if spoken:
        codings = (spoken.get("language") or {}).get("coding") or []
        language = (codings[0].get("code") if codings else None) or (spoken.get("language") or {}).get("text")
        if language:
            fields["language"] = language
        if len(languages) > 1:
            m.skip("Patient.communication after the preferred")
    for identifier in resource.get("identifier") or []:
        codes = [c.get("code") for c in ((identifier.get("type") or {}).get("coding") or [])]
        if "MR" in codes and "medical_record_number" not in fields and identifier.get("value"):
            fields["medical_record_number"] = identifier["value"]
        else:
            # DL (driver's licence) lands here on purpose: identifiers.government is not in the
            # import job's categories; SS and PPN are not kept by Confide at all.
            m.skip(f"Patient.identifier[{codes[0] if codes and codes[0] else 'untyped'}]")
    phones, emails = [], []
    for telecom in resource.get("telecom") or []:
        if telecom.get("use") == "old" or (telecom.get("period") or {}).get("end") or not telecom.get("value"):
            m.skip("Patient.telecom (old)")
        elif telecom.get("system") == "phone" and len(phones) < 2:
            phones.append(telecom["value"])
        elif telecom.get("system") == "email" and not emails:
            emails.append(telecom["value"])
        else:
            m.skip(f"Patient.telecom[{telecom.get('system') or 'untyped'}]")
    if phones:
        fields["phone"] = phones[0]
    if len(phones) > 1:
        fields["phone_other"] = phones[1]
    if emails:
        fields["email"] = emails[0]
    addresses = [a for a in resource.get("address") or [] if a.get("use") != "old"]
    home = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else None)
    if home:
        lines = list(home.get("line") or [])
        if len(lines) > 3:
            m.skip("Patient.address.line after the third")
        fields["address"] = {"lines": lines[:3], "city": home.get("city") or "", "state": home.get("state") or "",
                             "postal_code": home.get("postalCode") or "", "country": home.get("country") or ""}  # fmt: skip
        if home.get("extension"):
            m.skip("Patient.address.extension")
        if len(addresses) > 1:
            m.skip("Patient.address after the first")
    cleaned, problems = check_fields(fields)
    for problem in problems:
        m.refuse_value(n, "Patient", _patient_path(problem.field, problem.where), problem.message)
    return cleaned


# The Patient element each chart field is read from, for messages about a refused value.
PATIENT_PATHS = {
    "given_name": "name.given", "family_name": "name.family", "preferred_name": "name[usual].given",
    "date_of_birth": "birthDate", "sex": "gender", "language": "communication.language",
    "medical_record_number": "identifier[MR].value", "email": "telecom[email].value",
    "phone": "telecom[phone].value", "phone_other": "telecom[phone].value", "address": "address",
}  # fmt: skip
ADDRESS_PATHS = {"lines": "line", "city": "city", "state": "state", "postal_code": "postalCode", "country": "country"}


def _patient_path(name: str, where: tuple) -> str:
    path = PATIENT_PATHS.get(name, name)
    if name == "address" and where:
        part = ADDRESS_PATHS.get(str(where[0]), str(where[0]))
        path += f".{part}" + (f"[{where[1]}]" if len(where) > 1 and isinstance(where[1], int) else "")
    return path


# The element of each resource an item's field comes from (the mappers below), for messages.
_CONCEPT = {"coding": "code.coding"}
ITEM_PATHS = {
    "MedicationRequest": {"name": "medicationCodeableConcept", "coding": "medicationCodeableConcept.coding", "dose": "dosageInstruction",
                          "route": "dosageInstruction.route", "note": "note.text", "start": "authoredOn",
                          "end": "dispenseRequest.validityPeriod.end"},
    "MedicationStatement": {"name": "medicationCodeableConcept", "coding": "medicationCodeableConcept.coding", "dose": "dosage",
                            "route": "dosage.route", "note": "note.text", "start": "effective", "end": "effectivePeriod.end"},
    "AllergyIntolerance": {"substance": "code", **_CONCEPT, "reaction": "reaction.manifestation", "status": "clinicalStatus",
                           "onset": "onset", "recorded_at": "recordedDate"},
    "Condition": {"name": "code", **_CONCEPT, "status": "clinicalStatus", "onset": "onset", "abatement": "abatement",
                  "recorded_at": "recordedDate"},
    "Observation": {"name": "code", **_CONCEPT, "value": "valueQuantity.value", "unit": "valueQuantity.unit", "value_text": "value[x]",
                    "value_coding": "valueCodeableConcept.coding", "components": "component", "effective": "effective"},
    "Immunization": {"vaccine": "vaccineCode", "coding": "vaccineCode.coding", "date": "occurrence", "lot_number": "lotNumber"},
    "Encounter": {"kind": "type", "coding": "type.coding", "klass": "class", "start": "period.start", "end": "period.end",
                  "reason": "reasonCode"},
    "Procedure": {"name": "code", **_CONCEPT, "performed": "performed"},
}  # fmt: skip


def _item_path(kind: str, resource: dict, where: tuple) -> str:
    """'medicationCodeableConcept', 'component[1].code', 'code.coding.display' … for a location
    inside a chart item made from `resource`; only names of ours or FHIR's, never a value. An
    empty location (a rule across fields) is the resource itself: ''."""
    if len(where) >= 2 and where[0] == "components" and isinstance(where[1], int):
        inner = _item_path(kind, resource, tuple(where[2:]))
        return f"component[{where[1]}]" + (f".{inner}" if inner else "")
    if not where:
        return ""
    paths = ITEM_PATHS.get(kind, {})
    if kind.startswith("Medication") and "medicationCodeableConcept" not in resource:
        paths = {**paths, "name": "medicationReference", "coding": "medicationReference"}
    head, *rest = where
    path = paths.get(str(head), str(head))
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


# --- the clinical resources -------------------------------------------------------------------------
def _dose(m: _Mapper, kind: str, dosage: list | None) -> tuple[str, str]:
    """(dose as written, route) from the first Dosage."""
    if not dosage:
        return "", ""
    first = dosage[0]
    if len(dosage) > 1:
        m.skip(f"{kind}.dosage after the first")
    route = m.concept(kind, first.get("route"), "")[0] if first.get("route") else ""
    if first.get("text"):
        return first["text"], route
    parts = []
    for rate in first.get("doseAndRate") or []:
        quantity = rate.get("doseQuantity") or {}
        if quantity.get("value") is not None:
            parts.append(f"{quantity['value']:g} {quantity.get('unit') or quantity.get('code') or ''}".strip())
            break
    repeat = (first.get("timing") or {}).get("repeat") or {}
    if repeat.get("frequency") and repeat.get("period") and repeat.get("periodUnit"):
        parts.append(f"{repeat['frequency']} every {repeat['period']:g} {repeat['periodUnit']}")
    if first.get("asNeededBoolean"):
        parts.append("as needed")
    return ", ".join(parts), route


def _medication(m: _Mapper, n: int, r: dict) -> dict:
    kind = r["resourceType"]
    if r.get("medicationCodeableConcept"):
        name, coding = m.concept(kind, r["medicationCodeableConcept"])
    else:
        target = m.resolve(r.get("medicationReference"))
        medication = m.bundle["entry"][target]["resource"] if target is not None else {}
        if medication.get("resourceType") == "Medication":
            name, coding = m.concept(kind, medication.get("code"))
        else:
            m.skip(f"{kind}.medicationReference (not in the bundle)")
            name, coding = (r.get("medicationReference") or {}).get("display") or "(not named in the source)", None
    status = MEDICATION_STATUS.get(r.get("status"), r.get("status") or "unknown")
    if kind == "MedicationRequest":
        dose, route = _dose(m, kind, r.get("dosageInstruction"))
        start = m.date(f"{kind}.authoredOn", r.get("authoredOn"))
        end = m.date(f"{kind}.dispenseRequest.validityPeriod.end", ((r.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("end"))
        medication_kind = "prescription"
    else:
        dose, route = _dose(m, kind, r.get("dosage"))
        period = r.get("effectivePeriod") or {}
        start = m.date(f"{kind}.effective", r.get("effectiveDateTime") or period.get("start"))
        end = m.date(f"{kind}.effectivePeriod.end", period.get("end"))
        categories = ((r.get("category") or {}).get("coding")) or []
        said = {c.get("code") for c in categories if c.get("system") == MEDICATION_KIND}
        medication_kind = "otc" if "otc" in said else "prescription" if "prescription" in said else "unknown"
    notes = [note.get("text") for note in r.get("note") or [] if note.get("text")]
    item = {"name": name, "coding": coding, "dose": dose, "route": route, "kind": medication_kind, "status": status,
            "start": start, "end": end, "note": " / ".join(notes)}  # fmt: skip
    if kind == "MedicationStatement" and any(
        c.get("system") == MEDICATION_STATEMENT_CATEGORY and c.get("code") == "patientspecified" for c in ((r.get("category") or {}).get("coding") or [])
    ):
        item["reported_by_patient"] = True
    return item


def _allergy(m: _Mapper, n: int, r: dict) -> dict:
    substance, coding = m.concept("AllergyIntolerance", r.get("code"))
    clinical_status = ((r.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
    verification = ((r.get("verificationStatus") or {}).get("coding") or [{}])[0].get("code")
    categories = r.get("category") or []
    reactions = []
    for reaction in r.get("reaction") or []:
        for manifestation in reaction.get("manifestation") or []:
            reactions.append(m.concept("AllergyIntolerance.reaction", manifestation)[0])
    return {
        "substance": substance, "coding": coding, "category": categories[0] if categories else "unknown",
        "criticality": r.get("criticality") or "unknown", "reaction": "; ".join(reactions),
        "status": "entered-in-error" if verification == "entered-in-error" else clinical_status or "active",
        "onset": m.date("AllergyIntolerance.onset", r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start")),
        "recorded_at": m.instant("AllergyIntolerance.recordedDate", r.get("recordedDate")),
    }  # fmt: skip


def _condition(m: _Mapper, n: int, r: dict) -> dict:
    name, coding = m.concept("Condition", r.get("code"))
    clinical_status = ((r.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")
    verification = ((r.get("verificationStatus") or {}).get("coding") or [{}])[0].get("code")
    for key in ("onsetAge", "onsetRange", "onsetString", "abatementAge", "abatementRange", "abatementString"):
        if key in r:
            m.skip(f"Condition.{key}")
    return {
        "name": name, "coding": coding,
        "status": "entered-in-error" if verification == "entered-in-error" else clinical_status or "unknown",
        "onset": m.date("Condition.onset", r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start")),
        "abatement": m.date("Condition.abatement", r.get("abatementDateTime") or (r.get("abatementPeriod") or {}).get("start")),
        "recorded_at": m.instant("Condition.recordedDate", r.get("recordedDate")),
    }  # fmt: skip


def _value(m: _Mapper, kind: str, r: dict) -> dict:
    """An Observation's (or a component's) value[x] in the chart's terms."""
    if "valueQuantity" in r:
        quantity = r["valueQuantity"]
        value = quantity.get("value")
        return {"value": float(value) if value is not None else None, "unit": quantity.get("unit") or quantity.get("code") or ""}
    if "valueCodeableConcept" in r:
        text, coding = m.concept(f"{kind}.valueCodeableConcept", r["valueCodeableConcept"])
        return {"value_text": text, "value_coding": coding}
    if "valueString" in r:
        return {"value_text": r["valueString"]}
    if "valueInteger" in r:
        return {"value": float(r["valueInteger"])}
    if "valueBoolean" in r:
        return {"value_text": "true" if r["valueBoolean"] else "false"}
    for key in ("valueDateTime", "valueTime"):
        if key in r:
            return {"value_text": r[key]}
    for key in r:
        if key.startswith("value"):
            m.skip(f"{kind}.{key}")  # Range, Ratio, SampledData, Period: no place in a result yet
    return {}


def _range_text(ranges: list | None) -> str:
    """An Observation's first referenceRange as people write it: its text, else "low–high unit"
    ("3.5–5.0 mmol/L"), "below 5.0 mmol/L" or "above 3.5 mmol/L"; "" when there is none."""
    first = (ranges or [{}])[0] or {}
    if first.get("text"):
        return str(first["text"]).strip()[:500]

    def amount(q):
        if not isinstance(q, dict) or q.get("value") is None:
            return None, ""
        return f"{float(q['value']):g}", unit_for_display(q.get("unit") or q.get("code") or "")

    (low, low_unit), (high, high_unit) = amount(first.get("low")), amount(first.get("high"))
    unit = high_unit or low_unit
    if low and high:
        text = f"{low}–{high}"
    elif high:
        text = f"below {high}"
    elif low:
        text = f"above {low}"
    else:
        return ""
    return f"{text} {unit}".strip()[:500]


def _observation(m: _Mapper, n: int, r: dict) -> dict:
    name, coding = m.concept("Observation", r.get("code"))
    categories = [c.get("code") for cat in r.get("category") or [] for c in cat.get("coding") or [] if c.get("code")]
    effective = r.get("effectiveDateTime") or r.get("effectiveInstant") or (r.get("effectivePeriod") or {}).get("start")
    components = []
    for component in r.get("component") or []:
        part_name, part_coding = m.concept("Observation.component", component.get("code"))
        components.append({"name": part_name, "coding": part_coding, **_value(m, "Observation.component", component)})
    return {
        "name": name, "coding": coding, "category": categories[0] if categories else "",
        "effective": m.instant("Observation.effective", effective), "status": r.get("status") or "unknown",
        "components": components, **_value(m, "Observation", r),
        # Only when the source gave one: an item without it keeps the digest it always had.
        **({"reference_range": reference} if (reference := _range_text(r.get("referenceRange"))) else {}),
    }  # fmt: skip


def _immunization(m: _Mapper, n: int, r: dict) -> dict:
    vaccine, coding = m.concept("Immunization", r.get("vaccineCode"))
    if r.get("occurrenceString"):
        m.skip("Immunization.occurrenceString")
    return {"vaccine": vaccine, "coding": coding, "date": m.date("Immunization.occurrence", r.get("occurrenceDateTime")),
            "status": r.get("status") or "completed", "lot_number": r.get("lotNumber") or ""}  # fmt: skip


def _encounter(m: _Mapper, n: int, r: dict) -> dict:
    types = r.get("type") or []
    if len(types) > 1:
        m.skip("Encounter.type after the first")
    klass = (r.get("class") or {}).get("code") or ""
    kind, coding = m.concept("Encounter", types[0] if types else None, ENCOUNTER_CLASS.get(klass, "Encounter"))
    reasons = [m.concept("Encounter.reasonCode", reason)[0] for reason in r.get("reasonCode") or []]
    period = r.get("period") or {}
    return {
        "kind": kind, "coding": coding, "klass": ENCOUNTER_CLASS.get(klass, klass.lower()),
        "start": m.instant("Encounter.period.start", period.get("start")), "end": m.instant("Encounter.period.end", period.get("end")),
        "status": ENCOUNTER_STATUS.get(r.get("status"), r.get("status") or "unknown"), "reason": "; ".join(reasons),
    }  # fmt: skip


def _procedure(m: _Mapper, n: int, r: dict) -> dict:
    name, coding = m.concept("Procedure", r.get("code"))
    performed = r.get("performedDateTime") or (r.get("performedPeriod") or {}).get("start")
    encounter_key = ""
    if r.get("encounter"):
        target = m.resolve(r["encounter"])
        if target is not None and m.bundle["entry"][target]["resource"]["resourceType"] == "Encounter":
            encounter_key = m.source_key(target)
        else:
            m.skip("Procedure.encounter (not in the bundle)")
    return {"name": name, "coding": coding, "performed": m.instant("Procedure.performed", performed),
            "status": r.get("status") or "unknown", "encounter_key": encounter_key}  # fmt: skip


MAPPERS = {
    "AllergyIntolerance": _allergy,
    "Condition": _condition,
    "MedicationRequest": _medication,
    "MedicationStatement": _medication,
    "Observation": _observation,
    "Immunization": _immunization,
    "Encounter": _encounter,
    "Procedure": _procedure,
}


@dataclass
class MappedBundle:
    patient_key: str
    fields: dict  # Patient field → cleaned value
    lists: dict[str, list[dict]]  # list name → items (validated, JSON-ready, no Confide id yet)
    imported: Counter
    skipped_types: Counter
    skipped_fields: Counter


def map_bundle(bundle: dict, *, practice_id, source_system: str = DEFAULT_SOURCE_SYSTEM) -> MappedBundle:
    """A checked bundle → what the chart will hold. Reads nothing from the database but the
    practice's index key; raises BundleRefused."""
    m = _Mapper(bundle=bundle, keyed=source_keyer(practice_id), system=source_system)
    entries = bundle.get("entry") or []
    patients = [n for n, e in enumerate(entries) if e["resource"]["resourceType"] == "Patient"]
    if len(patients) != 1:
        _refuse(f"the bundle holds {len(patients)} Patient resources: an import takes one patient's record per bundle")
    [patient_n] = patients
    imported, skipped = Counter({"Patient": 1}), Counter()
    lists: dict[str, dict[str, dict]] = {}
    for n, entry in enumerate(entries):
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind not in MAPPERS:
            if kind != "Patient":
                skipped[kind] += 1
            continue
        subject = resource.get(SUBJECT[kind])
        target = m.resolve(subject)
        if target is None:
            what = "names no patient" if not (subject or {}).get("reference") else "refers to a patient not in the bundle"
            _refuse(f"entry {n} ({kind}) {what}: the bundle is not imported")
        if target != patient_n:
            _refuse(f"entry {n} ({kind}): its {SUBJECT[kind]} is entry {target}, not the bundle's Patient")
        item = MAPPERS[kind](m, n, resource)
        item["source_key"] = m.source_key(n)
        list_name = LIST_OF[kind]
        try:
            # A placeholder id: the real one is Confide's, kept across re-imports (_merge).
            checked = clinical.LISTS[list_name].model_validate({**item, "id": "pending"}).model_dump(mode="json")
        except ValidationError as exc:
            for where, message in clinical.problems(exc):
                m.refuse_value(n, kind, _item_path(kind, resource, where), message)
            continue
        lists.setdefault(list_name, {})[item["source_key"]] = checked  # the same resource twice: the later wins
        imported[kind] += 1
    fields = _patient_fields(m, patient_n, entries[patient_n]["resource"])
    if m.refused:
        # Every refused value at once, so one correction of the source fixes them all; nothing of
        # the bundle is imported.
        count = f"{len(m.refused)} value{'s' if len(m.refused) > 1 else ''} refused"
        _refuse(f"{count}: {'; '.join(m.refused)}")
    return MappedBundle(
        patient_key=m.source_key(patient_n),
        fields=fields,
        lists={name: list(items.values()) for name, items in lists.items()},
        imported=imported,
        skipped_types=skipped,
        skipped_fields=m.skipped_fields,
    )


# --- writing it ---------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    patient_id: uuid.UUID
    created: bool
    changed: list[str]  # the patient's fields written (names only)
    imported: Counter
    skipped_types: Counter
    skipped_fields: Counter
    kept_local: int = 0  # items the source changed that had been changed here since: left as they are


def _finish(item: dict, item_id: str, recorded_at) -> dict:
    """An incoming item with Confide's id (components numbered after it, so they are stable
    too) and when it was recorded (the source's date if it has one, else the first import's)."""
    done = {**item, "id": item_id, "recorded_at": item.get("recorded_at") or recorded_at}
    if "components" in done:
        done["components"] = [{**c, "id": f"{item_id}-{k}"} for k, c in enumerate(done["components"])]
    return done


def _content_digest(item: dict) -> str:
    """What an item says, hashed: everything but Confide's ids and the digest itself."""
    content = {name: value for name, value in item.items() if name not in ("id", "source_digest")}
    if "components" in content:
        content["components"] = [{name: value for name, value in c.items() if name != "id"} for c in content["components"]]
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _from_source(item: dict, item_id: str, recorded_at) -> dict:
    done = _finish(item, item_id, recorded_at)
    done["source_digest"] = _content_digest(done)
    return done


def _merge(current: list[dict], incoming: list[dict], now: str) -> tuple[list[dict], int, int, int]:
    """(the list after import, items added, items replaced, items kept as changed here). An
    item whose source_key is already on the list is replaced in place, keeping its id, when the
    source changed it and nobody here did since; the others are appended."""
    merged = list(current)
    at = {item.get("source_key"): k for k, item in enumerate(merged) if item.get("source_key")}
    added = replaced = kept_local = 0
    for item in incoming:
        k = at.get(item["source_key"])
        if k is None:
            at[item["source_key"]] = len(merged)
            merged.append(_from_source(item, uuid.uuid4().hex, now))
            added += 1
            continue
        ours = merged[k]
        new = _from_source(item, ours["id"], ours.get("recorded_at") or now)
        last_sent = ours.get("source_digest")
        if new["source_digest"] == (last_sent or _content_digest(ours)):
            continue  # the source says what it said before (whatever was changed here since stands)
        if last_sent and _content_digest(ours) != last_sent:
            kept_local += 1  # changed here since the source last sent it: the change made here stands
            continue
        merged[k] = new
        replaced += 1
    return merged, added, replaced, kept_local


def _now_json() -> str:
    return clinical.Item(recorded_at=timezone.now()).model_dump(mode="json")["recorded_at"]


def import_bundle(bundle: dict, *, practice_id, source_system: str = DEFAULT_SOURCE_SYSTEM) -> ImportResult:
    """Import one checked bundle (parse_bundle) into the practice, in one transaction."""
    practice_id = uuid.UUID(str(practice_id))
    actor = FHIR_IMPORT_JOB.for_practice(practice_id)
    with tenant_context(practice_id=practice_id):
        mapped = map_bundle(bundle, practice_id=practice_id, source_system=source_system)
        existing = Patient.objects.filter(source_key=mapped.patient_key).values_list("id", flat=True).first()
        try:
            if existing is None:
                patient_id, changed, kept_local = _create(actor, mapped), None, 0
            else:
                patient_id, (changed, kept_local) = existing, _update(actor, existing, mapped)
        except IntegrityError:
            raise BundleRefused("another import created this patient at the same moment; nothing was written, run it again") from None
    return ImportResult(
        patient_id=patient_id, created=existing is None,
        changed=sorted(changed if changed is not None else [*mapped.fields, *mapped.lists]),
        imported=mapped.imported, skipped_types=mapped.skipped_types, skipped_fields=mapped.skipped_fields,
        kept_local=kept_local,
    )  # fmt: skip


def _create(actor, mapped: MappedBundle) -> uuid.UUID:
    now = _now_json()
    values = dict(mapped.fields)
    for name, items in mapped.lists.items():
        values[name] = _merge([], items, now)[0]
    values = clean_fields(values)
    with create_chart(actor, Purpose.TREATMENT, categories={_category(name) for name in values}) as chart:
        patient = chart.patient
        for name, value in values.items():
            setattr(patient, name, value)
        patient.source_key = mapped.patient_key
        patient.save()
        _index(patient, set(values))
    return patient.pk


def _update(actor, patient_id: uuid.UUID, mapped: MappedBundle) -> tuple[list[str], int]:
    """(the fields written, the items kept as changed here)."""
    names = [*mapped.fields, *mapped.lists]
    now = _now_json()
    # For update: the merge starts from the lists as they are under the row's lock, so an item
    # a clinician adds while the import runs is kept (access/locks.py).
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories=_categories_for_change(names), for_update=True) as chart:
        patient = chart.patient
        changes, new_entries, corrections, kept_local = {}, set(), set(), 0
        for name, value in mapped.fields.items():
            current = getattr(patient, name)
            if current != value:
                changes[name] = value
                (corrections if current not in (None, "") else new_entries).add(name)
        for name, items in mapped.lists.items():
            merged, added, replaced, kept = _merge(list(getattr(patient, name) or []), items, now)
            kept_local += kept
            if added or replaced:
                changes[name] = merged
            if added:
                new_entries.add(name)
            if replaced:
                corrections.add(name)
        if not changes:
            return [], kept_local
        cleaned = clean_fields(changes)
        if new_entries:
            chart.record_change(new_entries, "new_entry")
        if corrections:
            chart.record_change(corrections, "error_correction")
        for name, value in cleaned.items():
            setattr(patient, name, value)
        patient.save(update_fields=[*cleaned, "updated_at"])
        _index(patient, set(cleaned))
    return sorted(cleaned), kept_local


def import_bundle_file(path, *, practice_id, source_system: str = DEFAULT_SOURCE_SYSTEM) -> ImportResult:
    return import_bundle(read_bundle_file(Path(path)), practice_id=practice_id, source_system=source_system)


@dataclass
class ImportSummary:
    """What a run of imports did, for the command's last lines: counts only."""

    files: int = 0
    refused: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: int = 0
    imported: Counter = field(default_factory=Counter)
    skipped_types: Counter = field(default_factory=Counter)
    skipped_fields: Counter = field(default_factory=Counter)

    def add(self, result: ImportResult | None) -> None:
        self.files += 1
        if result is None:
            self.refused += 1
            return
        if result.created:
            self.created += 1
        elif result.changed:
            self.updated += 1
        else:
            self.unchanged += 1
        self.kept_local += result.kept_local
        self.imported.update(result.imported)
        self.skipped_types.update(result.skipped_types)
        self.skipped_fields.update(result.skipped_fields)


def practice_by_slug(slug: str) -> Practice:
    practice = Practice.objects.filter(slug=slug).first()
    if practice is None:
        raise NotFound("practice")
    return practice


# --- export ---------------------------------------------------------------------------------------
PSYCHOTHERAPY_REFUSAL = (
    "psychotherapy notes are not exported without the patient's specific authorization, recorded in the "
    "consent ledger (confide consent record --topic psychotherapy_notes_disclosure)"
)


def _psychotherapy_authorization(practice_id, patient_id):
    """The patient's recorded authorization to release their psychotherapy notes (HIPAA
    §164.508(a)(2): a specific one, not the general consent) as its consent state, or None."""
    from confide.consent import services as consent
    from confide.consent.topics import Topic

    current = consent.state(consent.Subject.patient(practice_id, patient_id), Topic.PSYCHOTHERAPY_DISCLOSURE)
    return current if current.granted else None


def _psychotherapy_documents(chart, subject: dict) -> tuple[list, list]:
    """Inside the release door: each signed psychotherapy note and addendum as a DocumentReference."""
    from confide.records.models import PsychotherapyAddendum

    entries, ids = [], []
    for note in chart.notes:
        url = _url("DocumentReference", str(note.pk))
        entries.append({"fullUrl": url, "resource": _document(
            str(note.pk), str(note.content), loinc=None, subject=subject, date=note.signed_at,
            description="Psychotherapy note (released with the patient's authorization)")})  # fmt: skip
        ids.append(note.pk)
        for addendum in PsychotherapyAddendum.objects.filter(note_id=note.pk).order_by("signed_at"):
            entries.append({"fullUrl": _url("DocumentReference", str(addendum.pk)), "resource": _document(
                str(addendum.pk), str(addendum.content), loinc=None, subject=subject, date=addendum.signed_at,
                description="Psychotherapy note addendum", relates_to=url)})  # fmt: skip
            ids.append(addendum.pk)
    return [_clean(e) for e in entries], ids


@dataclass(frozen=True)
class ExportResult:
    patient_id: uuid.UUID
    path: Path
    resources: dict[str, int]


def practice_of_patient(patient_id) -> uuid.UUID:
    """The practice holding this patient, asked practice by practice (tenant managers, and row
    security on PostgreSQL, show a patient only inside its practice's context)."""
    for practice_id in Practice.objects.order_by("slug").values_list("id", flat=True):
        with tenant_context(practice_id=practice_id):
            if Patient.objects.filter(id=patient_id).exists():
                return practice_id
    raise NotFound("patient")


def do_export_patient(patient_id, out_path, *, include_psychotherapy_notes: bool = False) -> ExportResult:
    """Write the patient's record as a FHIR R4B `collection` Bundle to `out_path` (mode 0600),
    as FHIR_EXPORT_JOB for the patient's request, with one `records:chart:exported` entry.

    Psychotherapy notes are never in it; asking for them is refused (an `access:denied` entry)
    until the patient's authorization can be recorded (`_psychotherapy_authorization`)."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        patient_id = uuid.UUID(str(patient_id))
    except ValueError:
        raise NotFound("patient") from None
    out_path = Path(out_path)
    practice_id = practice_of_patient(patient_id)
    actor = FHIR_EXPORT_JOB.for_practice(practice_id)
    with tenant_context(practice_id=practice_id):
        if include_psychotherapy_notes and _psychotherapy_authorization(practice_id, patient_id) is None:
            record(
                AuditEvent.ACCESS_DENIED, practice_id=practice_id, actor=system_actor(actor.name),
                purpose=Purpose.PATIENT_REQUEST.value, subject_id=patient_id, categories={"health.psychotherapy_notes"},
                outcome="denied", reason="psychotherapy_not_authorized",
            )  # fmt: skip
            raise AccessRefused("psychotherapy_not_authorized", PSYCHOTHERAPY_REFUSAL)
        written = False
        try:
            with open_chart(actor, patient_id, Purpose.PATIENT_REQUEST, categories=FHIR_EXPORT_JOB.categories) as chart:
                bundle, counts, resource_ids = _bundle_of(chart.patient)
                if include_psychotherapy_notes:  # authorized (checked above, and again by the release door)
                    with open_psychotherapy_notes_for_release(actor, patient_id) as released:
                        extra, extra_ids = _psychotherapy_documents(released, {"reference": f"urn:uuid:{patient_id}"})
                    bundle["entry"] += extra
                    resource_ids += extra_ids
                    counts = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
                try:
                    Bundle.model_validate(bundle)  # what leaves is valid FHIR, or nothing leaves
                except ValidationError as exc:
                    raise InvalidInput(f"the record could not be written as valid FHIR ({_where(exc, bundle)}); nothing was exported") from None
                _write_private(out_path, json.dumps(bundle, indent=2, ensure_ascii=False).encode())
                written = True
                record(
                    AuditEvent.CHART_EXPORTED, practice_id=practice_id, actor=system_actor(actor.name),
                    purpose=Purpose.PATIENT_REQUEST.value, subject_id=patient_id, resource_ids=resource_ids,
                    categories=chart.categories | ({"health.psychotherapy_notes"} if include_psychotherapy_notes else set()),
                    detail={"format": "fhir-r4b-collection", "resources": dict(sorted(counts.items())),
                            "psychotherapy_notes": bool(include_psychotherapy_notes)},
                )  # fmt: skip
        except BaseException:
            if written:  # the export is not on record (rolled back): neither is the file
                out_path.unlink(missing_ok=True)
            raise
    return ExportResult(patient_id=patient_id, path=out_path, resources=dict(sorted(counts.items())))


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600 from the first byte (a temporary file in the same
    directory, then renamed over the target: no moment where the file is readable by others,
    or half written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=".confide-export-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean(value):
    """Drop empty strings, None, empty lists and dicts, recursively: FHIR forbids empty values."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        cleaned = [_clean(v) for v in value]
        return [v for v in cleaned if v not in (None, "", [], {})]
    return value


def _concept_out(text: str, coding: dict | None) -> dict:
    return {"coding": [{"system": coding.get("system"), "code": coding.get("code"), "display": coding.get("display")}] if coding else [],
            "text": text}  # fmt: skip


def _dt_out(value: str | None) -> str | None:
    """A stored datetime → a FHIR dateTime (a time needs a zone: a naive one is taken as UTC)."""
    if not value:
        return None
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)).isoformat()


def _url(kind: str, item_id: str) -> str:
    # A stable full URL per (type, item id): the same export twice references the same things.
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'confide:{kind}/{item_id}')}"


def _field(patient, name: str, categories):
    """The patient's field if its category is opened (`categories` None: the export job's
    whole grant), else None: a narrower opening (the portal's) never reads outside it."""
    if categories is not None and Patient._meta.get_field(name).category not in categories:
        return None
    return getattr(patient, name)


def _patient_out(patient, categories=None) -> dict:
    def f(name):
        return _field(patient, name, categories)

    names = [{"use": "official", "family": f("family_name"), "given": [f("given_name")]}]
    if f("preferred_name"):
        names.append({"use": "usual", "given": [f("preferred_name")]})
    telecom = [{"system": "phone", "value": p} for p in (f("phone"), f("phone_other")) if p]
    if f("email"):
        telecom.append({"system": "email", "value": f("email")})
    address = f("address") or {}
    contacts = []
    for person, code in ((f("emergency_contact"), {"system": V2_0131, "code": "C", "display": "Emergency Contact"}),
                         (f("guardian"), {"system": V3_ROLE, "code": "GUARD", "display": "guardian"})):  # fmt: skip
        if person:
            contacts.append({
                "relationship": [{"coding": [code]}, {"text": person.get("relationship")}],
                "name": {"text": person.get("name")},
                "telecom": [{"system": "phone", "value": person.get("phone")}, {"system": "email", "value": person.get("email")}],
            })  # fmt: skip
    mrn, sex, born, language = f("medical_record_number"), f("sex"), f("date_of_birth"), f("language")
    resource = {
        "resourceType": "Patient", "id": str(patient.pk),
        "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical Record Number"}]},
                        "value": mrn}] if mrn else [],
        # The chart's sex is free text where it was typed in; FHIR's gender is one of four codes.
        "name": names, "telecom": telecom, "gender": sex if sex in FHIR_GENDERS else None,
        "birthDate": born.isoformat() if isinstance(born, datetime.date) else None,
        "address": [{"line": address.get("lines"), "city": address.get("city"), "state": address.get("state"),
                     "postalCode": address.get("postal_code"), "country": address.get("country")}] if address else [],
        "communication": [{"language": {"coding": [{"system": BCP47, "code": language}]}}] if language else [],
        "contact": contacts,
    }  # fmt: skip
    # Gender identity and pronouns have no core Patient element in R4 (only extensions we do
    # not write yet); sex is FHIR's administrative gender.
    return resource


def _medication_out(item: dict, subject: dict) -> dict:
    common = {"id": item["id"], "status": item["status"], "medicationCodeableConcept": _concept_out(item["name"], item.get("coding")),
              "subject": subject, "note": [{"text": item.get("note")}]}  # fmt: skip
    dosage = [{"text": item.get("dose"), "route": {"text": item.get("route")}}]
    kind, reported = item.get("kind", "prescription"), bool(item.get("reported_by_patient"))
    if kind == "prescription" and not reported:
        return {"resourceType": "MedicationRequest", **common, "intent": "order", "authoredOn": item.get("start"),
                "dosageInstruction": dosage, "dispenseRequest": {"validityPeriod": {"end": item.get("end")}}}  # fmt: skip
    # A statement: over the counter, of unknown kind, or a prescription the patient told us about
    # (not an order made here). Its kind travels in Confide's category coding.
    category = [{"system": MEDICATION_KIND, "code": kind}] if kind in ("otc", "prescription") else []
    if reported:
        category.append({"system": MEDICATION_STATEMENT_CATEGORY, "code": "patientspecified", "display": "Patient Specified"})
    return {"resourceType": "MedicationStatement", **common, "dosage": dosage, "category": {"coding": category},
            "informationSource": subject if reported else None,
            "effectivePeriod": {"start": item.get("start"), "end": item.get("end")}}  # fmt: skip


def _allergy_out(item: dict, subject: dict) -> dict:
    status = item.get("status", "active")
    return {
        "resourceType": "AllergyIntolerance", "id": item["id"], "code": _concept_out(item["substance"], item.get("coding")),
        "patient": subject,
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": status}]} if status != "entered-in-error" else None,
        "verificationStatus": {"coding": [{"system": ALLERGY_VERIFICATION, "code": "entered-in-error"}]} if status == "entered-in-error" else None,
        "category": [item["category"]] if item.get("category", "unknown") != "unknown" else [],
        "criticality": item["criticality"] if item.get("criticality", "unknown") != "unknown" else None,
        "reaction": [{"manifestation": [{"text": item["reaction"]}]}] if item.get("reaction") else [],
        "onsetDateTime": item.get("onset"), "recordedDate": _dt_out(item.get("recorded_at")),
    }  # fmt: skip


def _condition_out(item: dict, subject: dict) -> dict:
    status = item.get("status", "active")
    return {
        "resourceType": "Condition", "id": item["id"], "code": _concept_out(item["name"], item.get("coding")), "subject": subject,
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": status}]} if status not in ("entered-in-error", "unknown") else None,
        "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "entered-in-error"}]} if status == "entered-in-error" else None,
        "onsetDateTime": item.get("onset"), "abatementDateTime": item.get("abatement"), "recordedDate": _dt_out(item.get("recorded_at")),
    }  # fmt: skip


def _value_out(item: dict) -> dict:
    if item.get("value") is not None:
        return {"valueQuantity": {"value": item["value"], "unit": item.get("unit")}}
    if item.get("value_coding"):
        return {"valueCodeableConcept": _concept_out(item.get("value_text"), item["value_coding"])}
    if item.get("value_text"):
        return {"valueString": item["value_text"]}
    return {}


def _observation_out(item: dict, subject: dict) -> dict:
    return {
        "resourceType": "Observation", "id": item["id"], "status": item.get("status", "final"),
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": item["category"]}]}] if item.get("category") else [],
        "code": _concept_out(item["name"], item.get("coding")), "subject": subject, "effectiveDateTime": _dt_out(item.get("effective")),
        **_value_out(item),
        "referenceRange": [{"text": item["reference_range"]}] if item.get("reference_range") else [],
        "component": [{"code": _concept_out(c["name"], c.get("coding")), **_value_out(c)} for c in item.get("components") or []],
    }  # fmt: skip


def _immunization_out(item: dict, subject: dict) -> dict:
    return {
        "resourceType": "Immunization", "id": item["id"], "status": item.get("status", "completed"),
        "vaccineCode": _concept_out(item["vaccine"], item.get("coding")), "patient": subject,
        # occurrence[x] is required: a vaccination without a recorded date says so.
        **({"occurrenceDateTime": item["date"]} if item.get("date") else {"occurrenceString": "date not recorded"}),
        "lotNumber": item.get("lot_number"),
    }  # fmt: skip


def _encounter_out(item: dict, subject: dict) -> dict:
    klass = item.get("klass") or ""
    code = ENCOUNTER_CLASS_CODE.get(klass) or (klass.upper() if klass else None)
    return {
        "resourceType": "Encounter", "id": item["id"], "status": item.get("status", "finished"),
        "class": {"system": V3_ACT, "code": code} if code else {"system": V3_NULL, "code": "UNK", "display": "unknown"},
        "type": [_concept_out(item["kind"], item.get("coding"))], "subject": subject,
        "period": {"start": _dt_out(item.get("start")), "end": _dt_out(item.get("end"))},
        "reasonCode": [{"text": item["reason"]}] if item.get("reason") else [],
    }  # fmt: skip


def _procedure_out(item: dict, subject: dict, encounters: dict) -> dict:
    encounter = encounters.get(item.get("encounter_key")) if item.get("encounter_key") else None
    return {
        "resourceType": "Procedure", "id": item["id"], "status": item.get("status", "completed"),
        "code": _concept_out(item["name"], item.get("coding")), "subject": subject,
        "performedDateTime": _dt_out(item.get("performed")), "encounter": {"reference": encounter} if encounter else None,
    }  # fmt: skip


def _questionnaire_response_out(item: dict, subject: dict) -> dict:
    """An accepted online consultation: the answers as given, each item's linkId the form's
    question id, the questionnaire the form's version (`canonical|version`)."""
    answers = []
    for n, answer in enumerate(item.get("answers") or []):
        answers.append({"linkId": answer.get("question_id") or f"q{n + 1}", "text": answer.get("question"),
                        "answer": [{"valueString": answer.get("answer")}]})  # fmt: skip
    return {
        "resourceType": "QuestionnaireResponse", "id": item["id"], "status": "completed",
        "questionnaire": f"{INTAKE_QUESTIONNAIRE}|{item.get('form_version')}", "subject": subject, "source": subject,
        "authored": _dt_out(item.get("submitted_at")), "item": answers,
    }  # fmt: skip


def _note_text(note) -> str:
    content = note.content or {}
    if note.template == NoteTemplate.SOAP:
        return "\n\n".join(f"{name.capitalize()}:\n{content[name]}" for name in SOAP_SECTIONS if content.get(name))
    return content.get("text", "")


def _document(doc_id: str, text: str, *, loinc: tuple[str, str] | None, subject: dict, date, description: str, relates_to=None) -> dict:
    # The text as a base64 attachment of a DocumentReference: any FHIR reader keeps it whole,
    # where a Composition's narrative would have to be XHTML.
    return {
        "resourceType": "DocumentReference", "id": doc_id, "status": "current", "docStatus": "final",
        # No LOINC code is claimed where we know none that fits (a psychotherapy note): the text says what it is.
        "type": {"coding": [{"system": LOINC, "code": loinc[0], "display": loinc[1]}]} if loinc else {"text": description},
        "subject": subject,
        "date": date.isoformat() if date else None, "description": description,
        "relatesTo": [{"code": "appends", "target": {"reference": relates_to}}] if relates_to else [],
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(text.encode()).decode()}}],
    }  # fmt: skip


def _bundle_of(patient, categories=None) -> tuple[dict, Counter, list]:
    """Inside the export's open door: (the Bundle, resources by type, note and addendum ids).
    `categories`: what the opening granted (the portal's, for a patient's own download: no
    progress notes, never psychotherapy notes); None is the export job's whole grant."""

    def opened(category: str) -> bool:
        return categories is None or category in categories

    subject = {"reference": f"urn:uuid:{patient.pk}"}
    entries = [{"fullUrl": subject["reference"], "resource": _patient_out(patient, categories)}]
    encounters = {
        item["source_key"]: _url("Encounter", item["id"])
        for item in (_field(patient, "encounters", categories) or []) if item.get("source_key")
    }  # fmt: skip
    builders = {
        "allergies": _allergy_out, "conditions": _condition_out, "medications": _medication_out, "lab_results": _observation_out,
        "immunizations": _immunization_out, "encounters": _encounter_out,
        "procedures": lambda item, subject: _procedure_out(item, subject, encounters),
        "intake_answers": _questionnaire_response_out,
    }  # fmt: skip
    for list_name, build in builders.items():
        for item in _field(patient, list_name, categories) or []:
            resource = build(item, subject)
            entries.append({"fullUrl": _url(resource["resourceType"], item["id"]), "resource": resource})
    resource_ids = []
    if _field(patient, "health_background", categories):
        entries.append({"fullUrl": _url("DocumentReference", f"background-{patient.pk}"), "resource": _document(
            f"background-{patient.pk}", str(patient.health_background), loinc=("11329-0", "History general Narrative"),
            subject=subject, date=patient.updated_at, description="Health background")})  # fmt: skip
    # Signed notes only: a draft is not yet part of the record (it may still change or be discarded).
    signed = list(ProgressNote.objects.filter(patient_id=patient.pk, status=NoteStatus.SIGNED).order_by("signed_at")) if opened(NOTES) else []
    for note in signed:
        url = _url("DocumentReference", str(note.pk))
        entries.append({"fullUrl": url, "resource": _document(
            str(note.pk), _note_text(note), loinc=("11506-3", "Progress note"), subject=subject, date=note.signed_at,
            description="Progress note")})  # fmt: skip
        resource_ids.append(note.pk)
        for addendum in Addendum.objects.filter(note_id=note.pk).order_by("signed_at"):
            entries.append({"fullUrl": _url("DocumentReference", str(addendum.pk)), "resource": _document(
                str(addendum.pk), str(addendum.content), loinc=("11506-3", "Progress note"), subject=subject,
                date=addendum.signed_at, description="Addendum", relates_to=url)})  # fmt: skip
            resource_ids.append(addendum.pk)
    entries = [_clean(entry) for entry in entries]
    counts = Counter(entry["resource"]["resourceType"] for entry in entries)
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": timezone.now().isoformat(), "entry": entries}
    return bundle, counts, resource_ids


def bundle_for_opening(chart) -> tuple[bytes, dict[str, int]]:
    """The FHIR bundle of an open chart, with exactly what its opening granted (the portal's
    download of "My record": `portal/exports.py` opens the door as the patient, with the
    portal's categories, so progress notes and psychotherapy notes are never in it), validated
    against the R4B models: (JSON bytes, resources by type). Nothing is written or audited here;
    the caller records the export."""
    from fhir.resources.R4B.bundle import Bundle

    bundle, counts, _ids = _bundle_of(chart.patient, chart.categories)
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        raise InvalidInput(f"the record could not be written as valid FHIR ({_where(exc, bundle)}); nothing was exported") from None
    return json.dumps(bundle, indent=2, ensure_ascii=False).encode(), dict(sorted(counts.items()))
