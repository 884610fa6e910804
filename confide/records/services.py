"""Patient services. Every reading or writing of a patient's PHI goes through the chart door
(`confide.access.door`): these functions never open a vault allowance themselves.

They open the door outside any transaction of their own: the door runs the block in its
transaction (so a change and its audit entry commit together) and commits a refusal's
`access:denied` entry before raising."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction

from confide.access.door import create_chart, open_chart, open_patient_list
from confide.access.purposes import Purpose
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.records.models import Patient
from confide.vault import blind_index, keys
from confide.vault.fields import encrypted_fields

IDENTITY = {"identifiers.name", "identifiers.dob", "contact.email", "contact.phone"}
CHART = IDENTITY | {"health.background", "health.medications"}

# Blind-index kind → the patient fields it is computed from.
INDEXED = {
    "email": ("email",),
    "phone": ("phone",),
    "dob": ("date_of_birth",),
    "name": ("given_name", "family_name", "preferred_name"),
}
EDITABLE = frozenset(f.name for f in encrypted_fields(Patient))
REQUIRED = frozenset({"given_name", "family_name"})


def _category(field_name: str) -> str:
    return Patient._meta.get_field(field_name).category


def _index(patient: Patient, changed: set[str] | None = None) -> None:
    """Recompute the blind indexes of the kinds whose fields are in `changed` (all when None)."""
    for kind, fields in INDEXED.items():
        if changed is None or changed & set(fields):
            blind_index.replace_entries(patient.practice_id, patient.id, kind, [getattr(patient, f) for f in fields])


def do_create_patient(
    *,
    actor: StaffActor,
    given_name: str,
    family_name: str,
    date_of_birth: datetime.date | None = None,
    email: str | None = None,
    phone: str | None = None,
    preferred_name: str | None = None,
    health_background: str | None = None,
    medications: list | None = None,
    request=None,
) -> Patient:
    """A new patient, through the door for new charts (purpose treatment; the categories are
    those of the fields given). One `records:patient:created` entry, in the insert's transaction."""
    if not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)
    if not (given_name or "").strip() or not (family_name or "").strip():
        raise InvalidInput("A patient needs a given name and a family name.")
    values = {
        "given_name": given_name.strip(),
        "family_name": family_name.strip(),
        "preferred_name": preferred_name,
        "date_of_birth": date_of_birth,
        "email": email,
        "phone": phone,
        "health_background": health_background,
        "medications": medications,
    }
    categories = {_category(name) for name, value in values.items() if value is not None}
    with create_chart(actor, Purpose.TREATMENT, categories=categories, request=request) as chart:
        patient = chart.patient
        for name, value in values.items():
            setattr(patient, name, value)
        patient.save()
        _index(patient, {name for name, value in values.items() if value is not None})
    return patient


def do_update_patient(*, actor: StaffActor, patient_id: uuid.UUID, reason: str, request=None, **changes) -> Patient:
    """Change fields of a patient's record (REC4): `reason` is patient_request,
    error_correction or immaterial; the change and its `records:chart:changed` entry (field
    names and the reason, never values) commit together, or neither does."""
    if not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)
    unknown = set(changes) - EDITABLE
    if not changes or unknown:
        raise InvalidInput("Name the fields of the patient's record to change.")
    for name in REQUIRED & set(changes):
        if not isinstance(changes[name], str) or not changes[name].strip():
            raise InvalidInput("A patient needs a given name and a family name.")
    categories = {_category(name) for name in changes}
    if set(changes) & {f for fields in INDEXED.values() for f in fields}:
        # Re-indexing a kind reads its sibling fields (a name's three parts), same category.
        categories |= {_category(f) for fields in INDEXED.values() if set(fields) & set(changes) for f in fields}
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories=categories, request=request) as chart:
        chart.record_change(changes, reason)
        patient = chart.patient
        for name, value in changes.items():
            setattr(patient, name, value.strip() if name in REQUIRED else value)
        patient.save()
        _index(patient, set(changes))
    return patient


def access_patient_by_id(actor: StaffActor, patient_id: uuid.UUID) -> Patient:
    """A scoped fetch: the patient of the actor's practice, or NotFound (the same for another
    practice's). The row comes back sealed; reading its PHI needs the door (open_chart)."""
    try:
        return Patient.objects.get(id=patient_id)
    except Patient.DoesNotExist:
        raise NotFound("patient") from None


def search_patients(actor: StaffActor, query: str) -> list[Patient]:
    """Exact search by email, phone, date of birth or name tokens, through blind indexes.

    Returns sealed Patient rows (nothing decrypted, nothing audited): what a caller shows of
    them it opens through the door, as list_patient_summaries does."""
    return list(Patient.objects.filter(id__in=search_patient_ids(actor, query)))


def search_patient_ids(actor: StaffActor, query: str) -> list[uuid.UUID]:
    """The ids search_patients finds (an empty query: the first 50 active patients)."""
    if not actor.has(Perm.CONTACT_READ):
        raise Forbidden(Perm.CONTACT_READ)
    query = (query or "").strip()
    if not query:
        return list(Patient.objects.filter(is_active=True).values_list("id", flat=True)[:50])
    kind = blind_index.classify(query)
    try:
        return sorted(blind_index.search(actor.practice_id, kind, query), key=str)
    except blind_index.NotSearchable as exc:
        raise InvalidInput(f"Search: {exc}.") from None


@dataclass(frozen=True)
class PatientSummary:
    """What the patient list shows: identity and contact, decrypted inside the door."""

    id: uuid.UUID
    display_name: str
    date_of_birth: datetime.date | None
    phone: str | None
    email: str | None


SUMMARY_CATEGORIES = frozenset(IDENTITY)


def list_patient_summaries(actor: StaffActor, query: str = "", *, request=None) -> list[PatientSummary]:
    """The patient list: purpose operations (finding a patient in the practice's register),
    identity and contact only, one `records:patients:listed` audit entry for the whole list."""
    patient_ids = search_patient_ids(actor, query)
    with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories=SUMMARY_CATEGORIES, request=request) as listed:
        rows = [
            PatientSummary(
                id=p.id,
                display_name=" ".join(str(part) for part in (p.preferred_name or p.given_name, p.family_name) if part) or str(p.given_name),
                date_of_birth=p.date_of_birth if isinstance(p.date_of_birth, datetime.date) else None,
                phone=p.phone or None,
                email=p.email or None,
            )
            for p in listed
        ]
    return sorted(rows, key=lambda row: row.display_name.casefold())


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
