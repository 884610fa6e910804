"""The shapes of a chart's clinical lists, checked before they are sealed (REC1).

A patient's medications, allergies, conditions, results, immunizations, encounters and
procedures are each one encrypted JSON list on the `Patient` row (one category per list, so the
chart door can grant them one by one). Every item is validated by the pydantic model here on
its way in — from a form, from a FHIR import — so what is stored has one shape whatever its
source: codes with their system, values with units, ISO dates, a status from a fixed set.

`source_key` identifies an item that came from elsewhere (a keyed hash of the source system and
its resource id, never the id itself): importing the same FHIR bundle twice replaces items
rather than duplicating them.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from confide.core.text import check_line, lower_first
from confide.records.values import as_value_error, email_address, phone_number

# Every text of an item is one line (confide/core/text.py), except the few that are prose —
# a note, a result's text, an answer — which keep their line breaks but no other control.
_one_line = AfterValidator(check_line)
_lines = AfterValidator(lambda value: check_line(value, multiline=True))
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), _one_line]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120), _one_line]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), _one_line]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), _lines]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), _one_line, AfterValidator(as_value_error(phone_number))]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), _one_line, AfterValidator(as_value_error(email_address))]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    source_key: str = ""  # keyed hash of (source system, resource id); "" when entered here
    # SHA-256 of the item as its source last sent it (records/fhir.py): a re-import tells from it
    # whether the source changed its mind and whether the item was changed here since.
    source_digest: str = ""
    recorded_at: datetime.datetime | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not value or len(value) > 64 or not value.replace("-", "").isalnum():
            raise ValueError("an item id is up to 64 letters, digits and dashes")
        return value


class Coding(BaseModel):
    """A code from a terminology (SNOMED CT, RxNorm, LOINC, CVX, ICD-10) with its display."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    system: Short = ""
    code: Short = ""
    display: Text = ""


# Why the course of care changed an item (records.services.CARE_REASONS gives the labels): kept
# on the item, under the patient's key, never in the audit log (which says `care_update`).
StatusReason = Literal[
    "", "completed", "side-effects", "ineffective", "patients-choice", "interaction", "replaced", "no-longer-needed",
    "outgrown", "ruled-out", "treated", "other",
]  # fmt: skip


class Medication(Item):
    name: Name
    coding: Coding | None = None
    dose: Short = ""  # "500 mg twice daily", as written
    route: Short = ""
    # prescription: ordered by a prescriber; otc: bought without one; unknown: reported by the
    # patient or another system without saying (a FHIR MedicationStatement says neither).
    kind: Literal["prescription", "otc", "unknown"] = "prescription"
    status: Literal["active", "stopped", "completed", "on-hold", "entered-in-error", "unknown"] = "active"
    start: datetime.date | None = None
    end: datetime.date | None = None
    status_reason: StatusReason = Field(default="", exclude_if=lambda value: value == "")  # absent when none
    prescriber: Short = ""
    note: Prose = ""
    # True when the patient told us they take it (an online consultation): a statement, not an
    # order made here, so the export writes a MedicationStatement whatever its kind.
    reported_by_patient: bool = False

    @model_validator(mode="after")
    def _dates(self) -> Medication:
        if self.start and self.end and self.end < self.start:
            raise ValueError("a medication cannot end before it starts")
        return self


class Allergy(Item):
    substance: Name
    coding: Coding | None = None
    category: Literal["food", "medication", "environment", "biologic", "unknown"] = "unknown"
    criticality: Literal["low", "high", "unable-to-assess", "unknown"] = "unknown"
    reaction: Text = ""
    status: Literal["active", "inactive", "resolved", "entered-in-error"] = "active"
    status_reason: StatusReason = Field(default="", exclude_if=lambda value: value == "")  # absent when none
    onset: datetime.date | None = None


class Condition(Item):
    name: Name
    coding: Coding | None = None
    status: Literal["active", "recurrence", "relapse", "inactive", "remission", "resolved", "entered-in-error", "unknown"] = "active"
    onset: datetime.date | None = None
    abatement: datetime.date | None = None
    status_reason: StatusReason = Field(default="", exclude_if=lambda value: value == "")  # absent when none


class Result(Item):
    """An observation: a lab value, a vital sign, a score. A value with its unit, or text."""

    name: Name
    coding: Coding | None = None
    category: Short = ""  # laboratory, vital-signs, survey, …
    value: float | None = None
    unit: Short = ""
    value_text: Prose = ""
    value_coding: Coding | None = None  # a coded answer ("Never smoker", SNOMED CT 266919005); its text is value_text
    components: list[Result] = Field(default_factory=list, max_length=20)  # e.g. blood pressure
    # The normal range the lab gave with the value, as text ("3.5–5.0 mmol/L"); absent when none
    # was recorded (so items stored before it existed keep their shape and digest).
    reference_range: Text = Field(default="", exclude_if=lambda value: value == "")
    effective: datetime.datetime | None = None
    status: Literal["final", "preliminary", "amended", "corrected", "cancelled", "entered-in-error", "registered", "unknown"] = "final"


class Immunization(Item):
    vaccine: Name
    coding: Coding | None = None
    date: datetime.date | None = None
    status: Literal["completed", "not-done", "entered-in-error"] = "completed"
    lot_number: Short = ""


class Encounter(Item):
    kind: Name  # "General examination", "Physiotherapy session"
    coding: Coding | None = None
    klass: Short = ""  # ambulatory, virtual, emergency, …
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    status: Literal["planned", "arrived", "in-progress", "finished", "cancelled", "entered-in-error", "unknown"] = "finished"
    reason: Text = ""
    source_encounter: str = ""  # the source's encounter reference, keyed like source_key


class Procedure(Item):
    name: Name
    coding: Coding | None = None
    performed: datetime.datetime | None = None
    status: Literal["preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"] = "completed"
    encounter_key: str = ""


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lines: list[Short] = Field(default_factory=list, max_length=3)
    city: Short = ""
    state: Short = ""
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), _one_line] = ""
    country: Short = ""


class Person(BaseModel):
    """An emergency contact or a parent/guardian."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name
    relationship: Short
    phone: Phone = ""
    email: Email = ""


class Insurance(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payer: Name
    member_id: Short
    group: Short = ""


# field name on Patient → the item model of its list
LISTS: dict[str, type[Item]] = {
    "medications": Medication,
    "allergies": Allergy,
    "conditions": Condition,
    "lab_results": Result,
    "immunizations": Immunization,
    "encounters": Encounter,
    "procedures": Procedure,
}
class IntakeAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: Text
    answer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000), _lines]
    question_id: Short = ""  # the form's id for the question ("" in consultations accepted before ids were kept)
    # Where the answer went in the chart (records/intake.py MAPS_TO): "" for an answer kept only here.
    maps_to: Literal["", "reason", "history", "duration", "allergies", "medications", "contact_time", "photo"] = ""


class Consultation(Item):
    """An online consultation accepted into the chart: the questions as asked (with the form's
    version), the answers as given, and how many items each answer added to the chart's lists."""

    submitted_at: datetime.datetime
    form_version: int
    answers: list[IntakeAnswer] = Field(default_factory=list, max_length=60)
    guardian_submitted: bool = False
    added: dict[Literal["allergies", "medications", "photos"], int] = Field(default_factory=dict)

    def mapped(self, target: str) -> str:
        """The answer that went to `target` ("reason", "duration", "contact_time", …), or ""."""
        return next((a.answer for a in self.answers if a.maps_to == target), "")


LISTS["intake_answers"] = Consultation

# field name on Patient → the model of its single structured value
STRUCTURED: dict[str, type[BaseModel]] = {
    "address": Address,
    "emergency_contact": Person,
    "guardian": Person,
    "insurance": Insurance,
}


def clean_list(field_name: str, items) -> list[dict]:
    """Validate a whole list for `field_name`; returns JSON-ready dicts (ValueError if not)."""
    model = LISTS[field_name]
    if not isinstance(items, list):
        raise ValueError(f"{field_name} is a list")
    cleaned = [model.model_validate(item).model_dump(mode="json") for item in items]
    ids = [item["id"] for item in cleaned]
    if len(ids) != len(set(ids)):
        raise ValueError(f"two {field_name} items share an id")
    return cleaned


def clean_structured(field_name: str, value) -> dict | None:
    if value is None:
        return None
    return STRUCTURED[field_name].model_validate(value).model_dump(mode="json")


def problems(exc: ValidationError) -> list[tuple[tuple, str]]:
    """(location, message) of every error pydantic found, the message a sentence that never
    holds the value: 'at most 300 characters.', 'remove the line break.', 'field required.'."""
    out = []
    for error in exc.errors(include_url=False, include_input=False, include_context=True):
        if error["type"] == "string_too_long":
            message = f"at most {error['ctx']['max_length']} characters."
        elif error["type"] == "string_too_short" and error["ctx"].get("min_length") == 1:
            message = "it is empty."
        else:
            message = lower_first(str(error["msg"]).removeprefix("Value error, ").rstrip(".")) + "."
        out.append((tuple(error["loc"]), message))
    return out
