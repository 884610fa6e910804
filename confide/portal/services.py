"""What the portal reads of a record, always through the chart door as the patient actor, for
purpose `patient_request` (confide/access/door.py): the door re-reads the account's link on
each opening and grants the portal's categories (access/policy.py, PORTAL_GRANT)."""

from __future__ import annotations

from dataclasses import dataclass

from confide.access import policy
from confide.access.door import open_chart
from confide.core.actors import PatientActor
from confide.core.purposes import Purpose

HEADER_CATEGORIES = frozenset({policy.NAME})


@dataclass(frozen=True)
class RecordHeader:
    """Whose record the portal shows: the name the patient goes by."""

    name: str


def get_record_header(*, actor: PatientActor, request=None) -> RecordHeader:
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories=HEADER_CATEGORIES, request=request) as chart:
        patient = chart.patient
        given = patient.preferred_name or patient.given_name or ""
        return RecordHeader(name=" ".join(part for part in (given, patient.family_name or "") if part).strip())


def record_headers(*, user_id: int, links, request=None) -> dict[str, RecordHeader]:
    """The switcher's names: one opening per record the account holds (a parent with two
    children opens three headers), each audited like any other opening."""
    headers = {}
    for link in links:
        actor = PatientActor(
            practice_id=link.practice_id, patient_id=link.patient_id, user_id=user_id, link_id=link.id,
            representative=link.is_representative,
        )
        from confide.core.tenancy import tenant_context

        with tenant_context(practice_id=link.practice_id, user_id=user_id):
            headers[str(link.id)] = get_record_header(actor=actor, request=request)
    return headers
