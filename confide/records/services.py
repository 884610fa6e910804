"""Patient services. Every reading or writing of a patient's PHI goes through the chart door
(`confide.access.door`): these functions never open a vault allowance themselves.

They open the door outside any transaction of their own: the door runs the block in its
transaction (so a change and its audit entry commit together) and commits a refusal's
`access:denied` entry before raising."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from confide.access.door import ALTERATION_REASONS, create_chart, open_chart, open_patient_list
from confide.core.purposes import Purpose
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound, NothingChanged
from confide.core.permissions import Perm
from confide.core.text import lower_first, validation_message
from confide.records import clinical
from confide.records.models import Patient
from confide.records.values import display_name, e164, phone_for_display
from confide.vault import blind_index, keys
from confide.vault.blind_index import source_keyer
from confide.vault.fields import EncryptedTextField, encrypted_fields

# Blind-index kind → the patient fields it is computed from.
INDEXED = {
    "email": ("email",),
    "phone": ("phone", "phone_other"),
    "dob": ("date_of_birth",),
    "name": ("given_name", "family_name", "preferred_name"),
    "name_prefix": ("given_name", "family_name", "preferred_name"),
}
EDITABLE = frozenset(f.name for f in encrypted_fields(Patient))
# Every category a patient row holds (maintenance code such as rotation tests reads them all).
CHART = frozenset(f.category for f in encrypted_fields(Patient))
REQUIRED = frozenset({"given_name", "family_name"})
# Stored in E.164 when they read as a number (records/values.py::e164), shown in national format.
PHONE_FIELDS = frozenset({"phone", "phone_other"})
_TEXT_FIELDS = frozenset(name for name in EDITABLE if isinstance(Patient._meta.get_field(name), EncryptedTextField))


def _category(field_name: str) -> str:
    return Patient._meta.get_field(field_name).category


def _index(patient: Patient, changed: set[str] | None = None) -> None:
    """Recompute the blind indexes of the kinds whose fields are in `changed` (all when None)."""
    for kind, fields in INDEXED.items():
        if changed is None or changed & set(fields):
            blind_index.replace_entries(patient.practice_id, patient.id, kind, [getattr(patient, f) for f in fields])


@dataclass(frozen=True)
class FieldProblem:
    """A value refused by a field's rule: the patient field, where inside it (a structured value's
    part, a list item's index and field), and why — never the value."""

    field: str
    where: tuple
    message: str  # a sentence starting in lower case, to follow a label

    def __str__(self) -> str:
        inside = ".".join(str(part) for part in self.where)
        return f"{_label(self.field)}: {f'{inside}: ' if inside else ''}{self.message}"


EMPTY = "it is empty."


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def check_fields(values: dict) -> tuple[dict, list[FieldProblem]]:
    """Every value checked against its field's one rule — the model field's validators for text
    (one line or several, length, e-mail and phone shapes: records/models.py), the clinical
    models for structured values and lists, dates for the date of birth. Returns what to store
    and every problem found (the FHIR import reports them all; the services the first). Values
    are never cut: a value over its limit is a problem."""
    unknown = sorted(set(values) - EDITABLE)
    if unknown:
        raise InvalidInput(f"Not a field of the patient's record: {unknown[0][:40]}.")
    cleaned, found = {}, []
    for name, value in values.items():
        if value is None:
            cleaned[name] = None
        elif name in _TEXT_FIELDS:
            if not isinstance(value, str):
                found.append(FieldProblem(name, (), "it must be text."))
                continue
            value = value.strip()
            if name in REQUIRED and not value:
                found.append(FieldProblem(name, (), EMPTY))
                continue
            try:
                Patient._meta.get_field(name).run_validators(value)
            except DjangoValidationError as exc:
                found.append(FieldProblem(name, (), lower_first(validation_message(exc))))
                continue
            cleaned[name] = (e164(value) if name in PHONE_FIELDS else value) or None
        elif name == "date_of_birth":
            if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
                found.append(FieldProblem(name, (), "give it as a date."))
            elif value > datetime.date.today() or value.year < 1800:
                found.append(FieldProblem(name, (), "it is not a possible one."))
            else:
                cleaned[name] = value
        else:
            try:
                cleaned[name] = clinical.clean_list(name, value) if name in clinical.LISTS else clinical.clean_structured(name, value)
            except ValidationError as exc:
                found += [FieldProblem(name, where, message) for where, message in clinical.problems(exc)]
            except ValueError as exc:
                found.append(FieldProblem(name, (), lower_first(str(exc)).rstrip(".") + "."))
    return cleaned, found


def clean_fields(values: dict) -> dict:
    """Validate patient field values (`check_fields`); InvalidInput naming the field and saying
    what is wrong with the first bad value; returns what to store."""
    cleaned, found = check_fields(values)
    if found:
        first = found[0]
        if first.field in REQUIRED and first.message == EMPTY:
            raise InvalidInput("A patient needs a given name and a family name.")
        raise InvalidInput(str(first))
    return cleaned


def _first_problem(exc: ValidationError) -> str:
    where, message = clinical.problems(exc)[0]
    inside = ".".join(str(p) for p in where)
    return f"{inside}: {message}" if inside else message[:1].upper() + message[1:]


# --- versions: what a form was loaded from (optimistic check of edits) -----------------------------
# An edit page carries the version of exactly the fields it edits; the save names it as
# `expected`, and if any of those fields changed since (someone else's save, an import) the
# service refuses with StaleEdit and writes nothing. A version is per field: a keyed hash
# (HMAC-SHA256 under the practice's index key, the key of the blind indexes) of the patient's
# id, the field's name and its value, cut to 64 bits — so the hidden input holds no PHI and
# nothing that can be checked against a guess without the key, it is the same after a key
# rotation re-seals the row, and comparing the versions of what was posted with those loaded
# tells which fields the editor changed. An item of a clinical list has one, over the item.
VERSION_FORMAT = "1"
_VERSION_PART = re.compile(r"^[0-9a-f]{16}$")
BAD_VERSION = "This form's version is damaged or missing: nothing was saved. Open the form again from the chart."


class BadVersion(InvalidInput):
    """A version token that is not one this service made (damaged, forged, from another form)."""

    def __init__(self, message: str = BAD_VERSION):
        super().__init__(message)


class StaleEdit(InvalidInput):
    """The record changed since the form was loaded: nothing was written.

    `fields`: the fields (of those the form edits) that changed since; `mine`: those of them the
    refused submission changed too (a real conflict: two people changed the same value);
    `item_id`: the item of a list, for a change to one."""

    def __init__(self, fields, *, mine=(), item_id: str | None = None):
        self.fields = tuple(sorted(fields))
        self.mine = tuple(sorted(mine))
        self.item_id = item_id
        super().__init__("Someone changed this record since the form was opened; nothing was saved.")


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def _version_keyer(patient: Patient):
    # Messages start "version\x1f": they cannot collide with a source key ("fhir:…") or a blind
    # index entry ("<kind>\x1f…", kinds email/phone/dob/name) made with the same key.
    keyed = source_keyer(patient.practice_id)
    return lambda *parts: keyed("\x1f".join(["version", str(patient.pk), *parts]))[:16]


def field_versions(patient: Patient, values: dict) -> dict[str, str]:
    """field name → version of `values[name]` (the patient's current values, or values posted)."""
    keyed = _version_keyer(patient)
    return {name: keyed(name, _canonical(value).decode()) for name, value in values.items()}


def current_versions(patient: Patient, names) -> dict[str, str]:
    """The versions of the patient's stored values of these fields (inside an open door)."""
    return field_versions(patient, {name: getattr(patient, name) for name in names})


def version_token(versions: dict[str, str]) -> str:
    """What a form carries: the versions of its fields in name order ("1.<16 hex>.<16 hex>…")."""
    return ".".join([VERSION_FORMAT, *(versions[name] for name in sorted(versions))])


def read_version_token(token, names) -> dict[str, str]:
    """The versions a form's token holds for `names` (the fields the form edits); BadVersion for
    anything this service did not make (the wrong shape, count or characters)."""
    names = sorted(names)
    if not isinstance(token, str) or len(token) > 2 + 17 * max(len(names), 1):
        raise BadVersion()
    parts = token.split(".")
    if parts[0] != VERSION_FORMAT or len(parts) != len(names) + 1 or not all(_VERSION_PART.match(p) for p in parts[1:]):
        raise BadVersion()
    return dict(zip(names, parts[1:], strict=True))


def item_version(patient: Patient, list_name: str, item: dict) -> str:
    """The version token of one item of a clinical list ("1.<16 hex>")."""
    return f"{VERSION_FORMAT}.{_version_keyer(patient)(list_name, str(item.get('id', '')), _canonical(item).decode())}"


def read_item_version(token) -> str:
    if not isinstance(token, str) or len(token) != 18 or token[:2] != f"{VERSION_FORMAT}." or not _VERSION_PART.match(token[2:]):
        raise BadVersion()
    return token


def purpose_and_permission(categories) -> tuple[Purpose, Perm]:
    """What a write of these categories is for, and the permission it needs: clinical data is
    written for treatment (records:chart:write), insurance for payment
    (billing:insurance:write), who the patient is and how to reach them for operations —
    registration (records:registration:write). A write mixing clinical and billing data is
    refused: the two are different people's work and different grants."""
    categories = set(categories)
    health = {c for c in categories if c.startswith("health.")}
    money = {c for c in categories if c.startswith("financial.")}
    if health and money:
        raise InvalidInput("Save clinical details and insurance separately.")
    if health:
        return Purpose.TREATMENT, Perm.CHART_WRITE
    if money:
        return Purpose.PAYMENT, Perm.BILLING_WRITE
    return Purpose.OPERATIONS, Perm.REGISTRATION_WRITE


def _check_write(actor: StaffActor, categories) -> Purpose:
    purpose, perm = purpose_and_permission(categories)
    if not actor.has(perm):
        raise Forbidden(perm)
    return purpose


def do_create_patient(*, actor: StaffActor, request=None, **fields) -> Patient:
    """A new patient, through the door for new charts, with one `records:patient:created`
    entry in the insert's transaction. The purpose follows the fields given (registration only:
    operations; with clinical details: treatment); the door checks the role may write them."""
    if not all(isinstance(fields.get(n), str) and fields[n].strip() for n in REQUIRED):
        raise InvalidInput("A patient needs a given name and a family name.")
    values = {name: value for name, value in clean_fields(fields).items() if value is not None}
    categories = {_category(name) for name in values}
    purpose = _check_write(actor, categories)
    with create_chart(actor, purpose, categories=categories, request=request) as chart:
        patient = chart.patient
        for name, value in values.items():
            setattr(patient, name, value)
        patient.save()
        _index(patient, set(values))
    return patient


def _categories_for_change(names) -> set[str]:
    categories = {_category(name) for name in names}
    # Re-indexing a kind reads its sibling fields (a name's three parts, both phones).
    categories |= {_category(f) for fields in INDEXED.values() if set(fields) & set(names) for f in fields}
    return categories


def do_update_patient(
    *, actor: StaffActor, patient_id: uuid.UUID, reason: str, request=None, expected: dict[str, str] | None = None, **changes
) -> Patient:
    """Change fields of a patient's record (REC4): `reason` is patient_request,
    error_correction or immaterial; the change and its `records:chart:changed` entry (field
    names and the reason, never values) commit together, or neither does.

    The row is re-read under its lock (the door's opening for update) and only the changed
    columns are written, so a concurrent change to another field (an allergy added, insurance
    updated) is never put back. `expected`: the versions of exactly the fields in `changes` as
    the editing form loaded them (`current_versions`, carried by the form); if any of them
    changed since, StaleEdit and nothing is written — an edit never silently overwrites a
    change its author did not see. Without it (imports, internal fills) the values are applied
    to the current record as they are."""
    if not changes:
        raise InvalidInput("Name the fields of the patient's record to change.")
    if expected is not None and (
        not isinstance(expected, dict) or set(expected) != set(changes)
        or not all(isinstance(v, str) and _VERSION_PART.match(v) for v in expected.values())
    ):  # fmt: skip
        raise BadVersion()
    if reason not in ALTERATION_REASONS:
        raise InvalidInput(
            "A change to a patient's record needs its reason: the patient's request, the correction of an error, "
            "or an immaterial change."
        )
    for name in REQUIRED & set(changes):
        if not isinstance(changes[name], str) or not changes[name].strip():
            raise InvalidInput("A patient needs a given name and a family name.")
    cleaned = clean_fields(changes)
    categories = _categories_for_change(cleaned)
    purpose = _check_write(actor, categories)
    with open_chart(actor, patient_id, purpose, categories=categories, request=request, for_update=True) as chart:
        patient = chart.patient
        changed = {name for name, value in cleaned.items() if getattr(patient, name) != value}
        if not changed:
            raise NothingChanged("Nothing changed: the record already holds these values.")
        if expected is not None:
            _check_expected(patient, cleaned, expected)
        chart.record_change(changed, reason)
        for name in changed:
            setattr(patient, name, cleaned[name])
        patient.save(update_fields=[*sorted(changed), "updated_at"])
        _index(patient, changed)
    return patient


def _check_expected(patient: Patient, cleaned: dict, expected: dict[str, str]) -> None:
    """StaleEdit when a field the form edits changed since the form was loaded."""
    now = current_versions(patient, cleaned)
    since = {name for name in cleaned if now[name] != expected[name]}
    if since:
        posted = field_versions(patient, cleaned)
        raise StaleEdit(since, mine={name for name in since if posted[name] != expected[name]})


# --- the clinical lists: medications, allergies, conditions, results, ... -----------------------------
def _list_door(actor, patient_id, list_name: str, request):
    if list_name not in clinical.LISTS:
        raise InvalidInput(f"Not a list of the chart: {str(list_name)[:40]}.")
    if not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)
    return open_chart(actor, patient_id, Purpose.TREATMENT, categories={_category(list_name)}, request=request, for_update=True)


def do_add_item(*, actor: StaffActor, patient_id: uuid.UUID, list_name: str, item: dict, request=None) -> dict:
    """Add one item (a medication, an allergy, a result …) to a list of the chart. A new entry
    alters nothing already there, so its reason is `new_entry`; the audit entry names the list.
    The list is read under the row's lock and only it is written: additions made at the same
    moment all stay (an addition never conflicts, so it carries no version)."""
    with _list_door(actor, patient_id, list_name, request) as chart:
        patient = chart.patient
        current = list(getattr(patient, list_name) or [])
        try:
            new = clinical.LISTS[list_name].model_validate({**item, "recorded_at": timezone.now()}).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidInput(_first_problem(exc)) from None
        if any(existing["id"] == new["id"] for existing in current):
            raise InvalidInput("An item with that id is already on the list.")
        chart.record_change([list_name], "new_entry")
        setattr(patient, list_name, [*current, new])
        patient.save(update_fields=[list_name, "updated_at"])
    return new


def do_update_item(
    *, actor: StaffActor, patient_id: uuid.UUID, list_name: str, item_id: str, changes, reason: str, request=None,
    expected: str | None = None, _care: bool = False,
) -> dict:  # fmt: skip
    """Change one item of a list (REC4: with its reason). Marking an item entered-in-error is a
    change like any other: items are never deleted from the record. `changes` is a dict, or a
    function of the current item (a dict) returning one, for changes that depend on it.
    `expected`: the item's version as the page showed it (`item_version`); if the item changed
    since, StaleEdit and nothing is written."""
    if reason not in ALTERATION_REASONS and not (_care and reason == "care_update"):
        raise InvalidInput("A change to the record needs its reason: the patient's request, an error corrected, or immaterial.")
    if expected is not None:
        expected = read_item_version(expected)
    with _list_door(actor, patient_id, list_name, request) as chart:
        patient = chart.patient
        current = list(getattr(patient, list_name) or [])
        index = next((n for n, existing in enumerate(current) if existing["id"] == item_id), None)
        if index is None:
            raise NotFound("item")
        if callable(changes):
            changes = changes(dict(current[index]))
        if "id" in changes or "source_key" in changes:
            raise InvalidInput("An item's id and source cannot change.")
        try:
            updated = clinical.LISTS[list_name].model_validate({**current[index], **changes}).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidInput(_first_problem(exc)) from None
        if updated == current[index]:
            raise NothingChanged("Nothing changed: the item already holds these values.")
        if expected is not None and item_version(patient, list_name, current[index]) != expected:
            raise StaleEdit([list_name], mine=[list_name], item_id=item_id)
        chart.record_change([list_name], reason)
        current[index] = updated
        setattr(patient, list_name, current)
        patient.save(update_fields=[list_name, "updated_at"])
    return updated


# How the chart marks an item it no longer holds true: a medication stopped or completed, an
# allergy or condition inactive or resolved, anything entered in error. Nothing is deleted.
ITEM_STATUS_CHANGES: dict[str, tuple[str, ...]] = {
    "medications": ("stopped", "completed", "entered-in-error"),
    "allergies": ("inactive", "resolved", "entered-in-error"),
    "conditions": ("inactive", "resolved", "entered-in-error"),
    "lab_results": ("entered-in-error",),
    "immunizations": ("entered-in-error",),
    "encounters": ("entered-in-error",),
    "procedures": ("entered-in-error",),
}


# The course of care (not a correction of the record): these statuses may instead be set with a
# clinical reason, recorded on the item; the audit entry's reason is then `care_update`.
CARE_STATUSES: dict[str, tuple[str, ...]] = {
    "medications": ("stopped", "completed"),
    "allergies": ("inactive", "resolved"),
    "conditions": ("inactive", "resolved"),
}
# list → (clinical reason code, how a person says it), in the order a form offers them.
CARE_REASONS: dict[str, tuple[tuple[str, str], ...]] = {
    "medications": (
        ("completed", "Course completed"), ("side-effects", "Side effects"), ("ineffective", "Not effective"),
        ("patients-choice", "Patient's choice"), ("interaction", "Interaction or contraindication"),
        ("replaced", "Replaced by another medication"), ("no-longer-needed", "No longer needed"), ("other", "Other clinical reason"),
    ),
    "allergies": (("outgrown", "No longer reacts"), ("ruled-out", "Ruled out by testing"), ("other", "Other clinical reason")),
    "conditions": (("treated", "Treated"), ("no-longer-needed", "No longer relevant"), ("other", "Other clinical reason")),
}  # fmt: skip
CARE_REASON_LABELS = {code: label for reasons in CARE_REASONS.values() for code, label in reasons}


def do_set_item_status(
    *, actor: StaffActor, patient_id: uuid.UUID, list_name: str, item_id: str, status: str, reason: str, request=None,
    expected: str | None = None,
) -> dict:  # fmt: skip
    """Mark an item through `do_update_item` (`expected`: its version as the page showed it).

    `reason`: a REC4 reason (the patient's request, an error corrected, immaterial) — for any
    status, and the only kind for entered-in-error — or, for a status of the course of care
    (CARE_STATUSES: a medication stopped, a condition resolved), a clinical reason of the list
    (CARE_REASONS: side effects, not effective, the patient's choice …), kept on the item as
    `status_reason`, the audit entry saying `care_update`. A medication stopped or completed gets
    today as its end date when it has none (and did not start later)."""
    if list_name not in ITEM_STATUS_CHANGES or status not in ITEM_STATUS_CHANGES[list_name]:
        raise InvalidInput("An item of this list cannot be marked that way.")
    clinical_reason = ""
    if reason not in ALTERATION_REASONS:
        if status not in CARE_STATUSES.get(list_name, ()):
            raise InvalidInput("A correction of the record needs its reason: the patient's request, an error corrected, or immaterial.")
        if reason not in dict(CARE_REASONS[list_name]):
            raise InvalidInput("Say why: choose a clinical reason, or the reason the record is corrected.")
        clinical_reason, reason = reason, "care_update"

    def changes(item: dict) -> dict:
        out = {"status": status}
        if clinical_reason:
            out["status_reason"] = clinical_reason
        elif item.get("status_reason") and status in CARE_STATUSES.get(list_name, ()):
            out["status_reason"] = ""  # a correction to a stop: its old clinical reason no longer holds
        if list_name == "medications" and status in ("stopped", "completed") and not item.get("end"):
            today = timezone.localdate()
            if not item.get("start") or datetime.date.fromisoformat(item["start"]) <= today:
                out["end"] = today.isoformat()
        return out

    return do_update_item(
        actor=actor, patient_id=patient_id, list_name=list_name, item_id=item_id, changes=changes, reason=reason, request=request,
        expected=expected, _care=reason == "care_update",
    )  # fmt: skip


def access_patient_by_id(actor: StaffActor, patient_id: uuid.UUID) -> Patient:
    """A scoped fetch: the patient of the actor's practice, or NotFound (the same for another
    practice's). The row comes back sealed; reading its PHI needs the door (open_chart)."""
    try:
        return Patient.objects.get(id=patient_id)
    except Patient.DoesNotExist:
        raise NotFound("patient") from None


def search_patients(actor: StaffActor, query: str) -> list[Patient]:
    """Search by email, phone, date of birth (exact) or the beginnings of names, through blind
    indexes.

    Returns sealed Patient rows (nothing decrypted, nothing audited): what a caller shows of
    them it opens through the door, as list_patient_summaries does."""
    return list(Patient.objects.filter(id__in=search_patient_ids(actor, query)))


def _find_by_name(practice_id, query: str) -> set[uuid.UUID]:
    """Patients with, for every word of the query, a name that begins with it ("mar quin" finds
    Marisol Quintero). The exact-name index answers too, so a whole name finds a patient whose
    prefixes were not indexed yet (`confide patients reindex` after an upgrade)."""
    result: set[uuid.UUID] | None = None
    for token in blind_index.name_tokens(query):
        found = blind_index.search(practice_id, "name_prefix", token) | blind_index.search(practice_id, "name", token)
        result = found if result is None else result & found
        if not result:
            break
    return result or set()


def _matching_ids(actor: StaffActor, query: str) -> set[uuid.UUID]:
    kind = blind_index.classify(query)
    try:
        if kind == "name":
            return _find_by_name(actor.practice_id, query)
        return blind_index.search(actor.practice_id, kind, query)
    except blind_index.NotSearchable as exc:
        raise InvalidInput(f"Search: {exc}.") from None


def search_patient_ids(actor: StaffActor, query: str) -> list[uuid.UUID]:
    """The ids search_patients finds (an empty query: the first 50 active patients). Ids only:
    also for the audit viewer's patient finder (audit_names.find_patients), which names them."""
    if not (actor.has(Perm.CONTACT_READ) or actor.has(Perm.AUDIT_LOG_VIEW)):
        raise Forbidden(Perm.CONTACT_READ)
    query = (query or "").strip()
    if not query:
        return list(Patient.objects.filter(is_active=True).values_list("id", flat=True)[:50])
    return sorted(_matching_ids(actor, query), key=str)


@dataclass(frozen=True)
class PatientSummary:
    """What the patient list shows: identity and contact, decrypted inside the door. The name
    is written as everywhere else (values.display_name), the phone in national format."""

    id: uuid.UUID
    display_name: str
    date_of_birth: datetime.date | None
    phone: str | None
    email: str | None


SUMMARY_CATEGORIES = frozenset({"identifiers.name", "identifiers.dob", "contact.email", "contact.phone"})


def _summary(p: Patient) -> PatientSummary:
    return PatientSummary(
        id=p.id,
        display_name=display_name(p.given_name, p.family_name, p.preferred_name),
        date_of_birth=p.date_of_birth if isinstance(p.date_of_birth, datetime.date) else None,
        phone=phone_for_display(p.phone) or None,
        email=p.email or None,
    )


def _fold(value) -> str:
    return " ".join(blind_index.name_tokens(str(value or ""))) if value else ""


def _name_order(p: Patient) -> tuple:
    """Last name, then first name, case and accents folded (Ödegaard sorts with the O's)."""
    return (_fold(p.family_name), _fold(p.given_name), str(p.pk))


def _summaries(actor: StaffActor, patient_ids: list, request) -> list[PatientSummary]:
    """Identity and contact of these patients, in this order, through one listing door."""
    with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories=SUMMARY_CATEGORIES, request=request) as listed:
        keys.prefetch_subject_keys(actor.practice_id, [p.pk for p in listed])  # one key query per page
        return [_summary(p) for p in listed]


def list_patient_summaries(actor: StaffActor, query: str = "", *, request=None) -> list[PatientSummary]:
    """The patient list: purpose operations (finding a patient in the practice's register),
    identity and contact only, one `records:patients:listed` audit entry for the whole list,
    by last name."""
    if not actor.has(Perm.CONTACT_READ):  # the register is for those who look patients up (not the audit finder)
        raise Forbidden(Perm.CONTACT_READ)
    patient_ids = search_patient_ids(actor, query)
    with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories=SUMMARY_CATEGORIES, request=request) as listed:
        keys.prefetch_subject_keys(actor.practice_id, [p.pk for p in listed])
        return [_summary(p) for p in sorted(listed, key=_name_order)]


PAGE_SIZE = 25
# How the list can be ordered (the value in ?sort=, its label).
SORTS = {"name": "Last name", "recent": "Recently updated"}


@dataclass(frozen=True)
class PatientPage:
    """One page of the patient list (what the list view shows)."""

    rows: list[PatientSummary]
    number: int
    num_pages: int
    count: int
    sort: str = "name"

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def list_patient_page(actor: StaffActor, query: str = "", page: int = 1, *, sort: str = "name", request=None) -> PatientPage:
    """A page of PAGE_SIZE patients: all active ones (an empty query) or those a search finds.

    `sort="name"` (the default): by last name, then first name. Names are encrypted, so the
    database cannot order them: the names of every patient the list covers (the register, or the
    search's matches) are decrypted to sort them, inside one listing door — and its one
    `records:patients:listed` entry names every one of them, because every one was read. The
    page's contact details are read only for the page's rows.
    `sort="recent"`: most recently updated first, ordered in the database; the entry then names
    the page's patients only. A page past the end shows the last page."""
    if not actor.has(Perm.CONTACT_READ):
        raise Forbidden(Perm.CONTACT_READ)
    if sort not in SORTS:
        raise InvalidInput("Sort the list by last name or by recent changes.")
    query = (query or "").strip()
    # `is_active__in=[True]`, not `is_active=True`: Django writes the latter as a bare
    # `WHERE is_active`, which SQLite cannot match to the second column of the list's indexes
    # (practice, is_active, sort key, id); `IN (1)` it treats as equality. Both sort keys run in
    # one direction with their id, so the index is read in order and stops after the page.
    matching = Patient.objects.filter(is_active__in=[True])
    if query:
        matching = matching.filter(id__in=list(_matching_ids(actor, query)))
    if sort == "recent":
        paginator = Paginator(matching.order_by("-updated_at", "-id").values_list("id", flat=True), PAGE_SIZE)
        current = paginator.get_page(page)
        rows = _summaries(actor, list(current.object_list), request)
        return PatientPage(rows=rows, number=current.number, num_pages=paginator.num_pages, count=paginator.count, sort=sort)
    ids = list(matching.order_by("created_at", "id").values_list("id", flat=True))
    with open_patient_list(actor, Purpose.OPERATIONS, ids, categories=SUMMARY_CATEGORIES, request=request) as listed:
        keys.prefetch_subject_keys(actor.practice_id, [p.pk for p in listed])
        paginator = Paginator(sorted(listed, key=_name_order), PAGE_SIZE)
        current = paginator.get_page(page)
        rows = [_summary(p) for p in current.object_list]
    return PatientPage(rows=rows, number=current.number, num_pages=paginator.num_pages, count=paginator.count, sort=sort)


# --- likely duplicates: warned about before a new chart is made ---------------------------------------
@dataclass(frozen=True)
class LikelyDuplicate:
    """A patient who looks like the one about to be registered, and why (never the values)."""

    id: uuid.UUID
    display_name: str
    date_of_birth: datetime.date | None
    why: str


def _signals(practice_id, fields: dict) -> dict[str, set[uuid.UUID]]:
    """Which patients share each identifier with `fields`, by blind index (nothing decrypted)."""
    found: dict[str, set[uuid.UUID]] = {}
    names = " ".join(str(fields.get(n) or "") for n in ("given_name", "family_name")).strip()
    if names and blind_index.name_tokens(names):
        found["name"] = blind_index.search(practice_id, "name", names)
    for signal, kind, name in (("date of birth", "dob", "date_of_birth"), ("email", "email", "email"), ("phone", "phone", "phone")):
        if fields.get(name):
            try:
                found[signal] = blind_index.search(practice_id, kind, fields[name])
            except blind_index.NotSearchable:
                pass
    return found


def _likely(found: dict[str, set[uuid.UUID]]) -> dict[uuid.UUID, str]:
    """A likely duplicate shares two identifiers: the name and one more, or the date of birth
    and a contact. One alone (a common name, a shared family phone) is not enough."""
    candidates: dict[uuid.UUID, list[str]] = {}
    for signal, ids in found.items():
        for pk in ids:
            candidates.setdefault(pk, []).append(signal)
    likely = {}
    for pk, signals in candidates.items():
        has = set(signals)
        if ("name" in has and len(has) >= 2) or ("date of birth" in has and has & {"email", "phone"}):
            order = ["name", "date of birth", "email", "phone"]
            likely[pk] = "same " + _and([s for s in order if s in has])
    return likely


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def find_likely_duplicates(*, actor: StaffActor, fields: dict, exclude=(), request=None) -> list[LikelyDuplicate]:
    """Patients of the practice who are probably the person about to be registered (`fields`:
    the registration form's values). Found by blind index; shown by name and date of birth
    through one listing door (a `records:patients:listed` entry naming them, purpose
    operations) — only when there is a match, so registering someone new reads nobody."""
    if not actor.has(Perm.CONTACT_READ):
        return []  # who cannot look patients up is not shown them here either
    likely = _likely(_signals(actor.practice_id, fields))
    for pk in exclude:
        likely.pop(pk, None)
    if not likely:
        return []
    ordered = sorted(likely, key=str)
    with open_patient_list(actor, Purpose.OPERATIONS, ordered, categories={"identifiers.name", "identifiers.dob"}, request=request) as listed:
        return sorted(
            (LikelyDuplicate(id=p.pk, display_name=display_name(p.given_name, p.family_name, p.preferred_name),
                             date_of_birth=p.date_of_birth if isinstance(p.date_of_birth, datetime.date) else None,
                             why=likely[p.pk]) for p in listed),
            key=lambda d: d.display_name.casefold(),
        )  # fmt: skip


@transaction.atomic
def do_shred_patient(*, practice_id: uuid.UUID, patient_id: uuid.UUID, actor_user=None) -> int:
    """Crypto-shred: destroy the patient's data keys. Every field and file of the patient
    becomes unreadable everywhere, backups included; the blind index entries go too. Reads no
    PHI, so it needs no door; afterwards the door refuses the patient (`patient_shredded`)."""
    from confide.audit.chain import record, system_actor
    from confide.audit.events import AuditEvent
    from confide.vault.models import BlindIndexEntry

    if not Patient.objects.filter(id=patient_id).exists():
        raise NotFound("patient")
    destroyed = keys.shred_subject(practice_id, patient_id)
    BlindIndexEntry.objects.filter(subject_id=patient_id).delete()
    Patient.objects.filter(id=patient_id).update(is_active=False)
    record(
        AuditEvent.SUBJECT_SHREDDED, practice_id=practice_id, actor=actor_user or system_actor("keys-command"),
        subject_id=patient_id, detail={"key_versions_destroyed": destroyed},
    )
    return destroyed


def reindex_patients(practice_id: uuid.UUID, *, batch_size: int = 200) -> int:
    """Recompute every blind index of the practice's active patients (after an upgrade adds a
    kind, e.g. name prefixes). Reads through the list door as the search-index job, one
    `records:patients:listed` entry per batch; writes index entries only, never a chart.
    Returns the number of patients indexed. Run inside the practice's context."""
    from confide.access.door import SEARCH_INDEX_JOB

    actor = SEARCH_INDEX_JOB.for_practice(practice_id)
    ids = list(Patient.objects.filter(is_active=True).order_by("id").values_list("id", flat=True))
    done = 0
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with transaction.atomic():
            with open_patient_list(actor, Purpose.OPERATIONS, batch, categories=SEARCH_INDEX_JOB.categories) as listed:
                keys.prefetch_subject_keys(practice_id, [p.pk for p in listed])
                for patient in listed:
                    _index(patient)
                done += len(listed)
    return done
