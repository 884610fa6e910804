"""A portal patient with a whole record for the "My record" tests: the adult of tests/portal_world.py
with insurance, a document, a signed progress note and a signed psychotherapy note, all made
through the services (so through the chart door)."""

from __future__ import annotations

from dataclasses import dataclass

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.records.uploads import pdf_upload

STAFF_NOTE = "Staff-only working note: discuss sleep hygiene"
PSYCHOTHERAPY_NOTE = "Psychotherapy process note: transference themes"
DOCUMENT_TITLE = "Referral letter from Dr Alder"
INSURANCE = {"payer": "Acme Health", "member_id": "XJ-99812", "group": "G-12"}


@dataclass
class RecordWorld:
    document: object
    note: object
    psychotherapy_note: object


def fill_record(pw, patient) -> RecordWorld:
    """Add what the adult's record lacks for the record page and the downloads."""
    from confide.records import notes
    from confide.records.files import do_add_file
    from confide.records.services import do_update_patient

    def actor(role):
        return StaffActor.from_membership(pw.memberships[role])

    with tenant_context(practice_id=pw.practice.id):
        do_update_patient(actor=actor(Role.BILLING), patient_id=patient.id, reason="patient_request", insurance=INSURANCE)
        document = do_add_file(actor=actor(Role.CLINICIAN), patient_id=patient.id, kind="document", upload=pdf_upload(), title=DOCUMENT_TITLE)
        note = notes.do_create_note(actor=actor(Role.CLINICIAN), patient_id=patient.id, template="free", content={"text": STAFF_NOTE})
        note = notes.do_sign_note(actor=actor(Role.CLINICIAN), note_id=note.pk)
        psy = notes.do_create_psychotherapy_note(actor=actor(Role.CLINICIAN), patient_id=patient.id, text=PSYCHOTHERAPY_NOTE)
        psy = notes.do_sign_psychotherapy_note(actor=actor(Role.CLINICIAN), patient_id=patient.id, note_id=psy.pk)
    return RecordWorld(document=document, note=note, psychotherapy_note=psy)
