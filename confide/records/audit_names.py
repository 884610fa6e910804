"""Patients in the audit viewer, by name (issue 12): the records side of the log's port.

The audit log sits below the records package and never reads a patient's name itself
(confide/audit/reports.py, `register_patient_namer`). This module fills that port: the names of
the patients on one page of the viewer are read through the chart door in ONE list opening
(`open_patient_list`, purpose operations, the name category only), audited like the patient list.
A role whose operations grant has no names (none today but roles added later) gets none: the
viewer then shows shortened ids.

It also answers "who opened this record?" for the privacy officer, whose role has no patient
list (records:contact:read): `find_patients` looks patients up by name, date of birth, e-mail or
phone through the blind index (records.services.search_patient_ids) and returns their names
only, again through one list opening.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confide.access import policy
from confide.access.door import acting_in_practice, open_patient_list
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.vault import keys

NAME_ONLY = frozenset({policy.NAME})


def display_name(patient) -> str:
    given, family, preferred = (str(v or "") for v in (patient.given_name, patient.family_name, patient.preferred_name))
    name = " ".join(part for part in (given, family) if part) or "[no name]"
    return f"{name} ({preferred})" if preferred else name


def may_see_names(actor) -> bool:
    return isinstance(actor, StaffActor) and NAME_ONLY <= policy.categories_for(actor.role, Purpose.OPERATIONS)


def patient_names(actor: StaffActor, patient_ids: list, request=None) -> dict[uuid.UUID, str]:
    """The names of these patients that the actor may see, in one audited list opening."""
    if not may_see_names(actor) or not patient_ids:
        return {}
    from confide.records.models import Patient

    with acting_in_practice(actor):
        # Ids of no active patient (erased, removed, never a patient) would only add an empty opening.
        patient_ids = list(Patient.objects.filter(pk__in=list(patient_ids), is_active=True).values_list("pk", flat=True))
        if not patient_ids:
            return {}
        with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories=NAME_ONLY, request=request) as listed:
            keys.prefetch_subject_keys(actor.practice_id, [p.pk for p in listed])
            return {p.pk: display_name(p) for p in listed}


@dataclass(frozen=True)
class FoundPatient:
    id: uuid.UUID
    name: str


def find_patients(actor: StaffActor, query: str, *, request=None) -> list[FoundPatient]:
    """Patients matching a name, a date of birth (YYYY-MM-DD), an e-mail address or a phone
    number, by name only, for whoever reads the audit log. An empty query is refused: this is
    a finder, not a list of the register."""
    from confide.records.services import search_patient_ids

    if not isinstance(actor, StaffActor) or not actor.has(Perm.AUDIT_LOG_VIEW):
        raise Forbidden(Perm.AUDIT_LOG_VIEW)
    query = (query or "").strip()
    if not query:
        raise InvalidInput("Type a name, a date of birth (YYYY-MM-DD), an e-mail address or a phone number.")
    ids = search_patient_ids(actor, query)
    if not ids:
        return []
    names = patient_names(actor, ids, request)
    return sorted((FoundPatient(id=pk, name=name) for pk, name in names.items()), key=lambda p: (p.name.casefold(), str(p.id)))
