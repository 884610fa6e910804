"""Patient services. Until the chart door (access issue) lands, each opens the vault allowance
for exactly the categories it touches."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction

from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.records.models import Patient
from confide.vault import blind_index, keys
from confide.vault.allowance import allow

IDENTITY = {"identifiers.name", "identifiers.dob", "contact.email", "contact.phone"}
CHART = IDENTITY | {"health.background", "health.medications"}


def _index(patient: Patient) -> None:
    practice_id = patient.practice_id
    blind_index.replace_entries(practice_id, patient.id, "email", [patient.email])
    blind_index.replace_entries(practice_id, patient.id, "phone", [patient.phone])
    blind_index.replace_entries(practice_id, patient.id, "dob", [patient.date_of_birth])
    blind_index.replace_entries(
        practice_id, patient.id, "name", [patient.given_name, patient.family_name, patient.preferred_name]
    )


@transaction.atomic
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
) -> Patient:
    if not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)
    if not (given_name or "").strip() or not (family_name or "").strip():
        raise InvalidInput("A patient needs a given name and a family name.")
    with allow(CHART):
        patient = Patient(
            practice_id=actor.practice_id,
            given_name=given_name.strip(),
            family_name=family_name.strip(),
            preferred_name=preferred_name,
            date_of_birth=date_of_birth,
            email=email,
            phone=phone,
            health_background=health_background,
            medications=medications,
        )
        patient.save()
        _index(patient)
    return patient


def access_patient_by_id(actor: StaffActor, patient_id: uuid.UUID) -> Patient:
    try:
        return Patient.objects.get(id=patient_id)
    except Patient.DoesNotExist:
        raise NotFound("patient") from None


def search_patients(actor: StaffActor, query: str) -> list[Patient]:
    """Exact search by email, phone, date of birth or name tokens, through blind indexes."""
    if not actor.has(Perm.CONTACT_READ):
        raise Forbidden(Perm.CONTACT_READ)
    query = (query or "").strip()
    if not query:
        return list(Patient.objects.filter(is_active=True)[:50])
    kind = blind_index.classify(query)
    try:
        subject_ids = blind_index.search(actor.practice_id, kind, query)
    except blind_index.NotSearchable as exc:
        raise InvalidInput(f"Search: {exc}.") from None
    return list(Patient.objects.filter(id__in=subject_ids))


@dataclass(frozen=True)
class PatientSummary:
    """What the patient list shows: identity and contact, decrypted inside the service."""

    id: uuid.UUID
    display_name: str
    date_of_birth: datetime.date | None
    phone: str | None
    email: str | None


def list_patient_summaries(actor: StaffActor, query: str = "") -> list[PatientSummary]:
    patients = search_patients(actor, query)
    with allow(IDENTITY):
        rows = [
            PatientSummary(
                id=p.id,
                display_name=" ".join(str(part) for part in (p.preferred_name or p.given_name, p.family_name) if part) or str(p.given_name),
                date_of_birth=p.date_of_birth if isinstance(p.date_of_birth, datetime.date) else None,
                phone=p.phone or None,
                email=p.email or None,
            )
            for p in patients
        ]
    return sorted(rows, key=lambda row: row.display_name.casefold())


@transaction.atomic
def do_shred_patient(*, practice_id: uuid.UUID, patient_id: uuid.UUID, actor_user=None) -> int:
    """Crypto-shred: destroy the patient's data keys. Every field and file of the patient
    becomes unreadable everywhere, backups included; the blind index entries go too."""
    from confide.accounts.models import SecurityEventKind
    from confide.accounts.services import record_security_event
    from confide.vault.models import BlindIndexEntry

    if not Patient.objects.filter(id=patient_id).exists():
        raise NotFound("patient")
    destroyed = keys.shred_subject(practice_id, patient_id)
    BlindIndexEntry.objects.filter(subject_id=patient_id).delete()
    Patient.objects.filter(id=patient_id).update(is_active=False)
    record_security_event(
        SecurityEventKind.SUBJECT_SHREDDED, actor=actor_user, practice_id=practice_id,
        detail={"subject_id": str(patient_id), "key_versions_destroyed": destroyed},
    )
    return destroyed
