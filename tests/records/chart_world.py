"""A patient with a whole chart, made through the services (so through the chart door), for
the view tests and the route matrix: notes by each author (drafts and signed), psychotherapy
notes, a document and a photo. Built lazily, once per practice world, only as far as a test
needs (`chart_world(world.a).note(Role.OWNER, signed=True)`)."""

from __future__ import annotations

import datetime

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.access.conftest import BILLING_EXTRA, FULL, REGISTRATION_EXTRA
from tests.records.uploads import pdf_upload, png_upload

NOTE_CONTENT = {"subjective": "Sleeps badly since March.", "objective": "Alert, oriented.", "assessment": "Improving.", "plan": "Review in 2 weeks."}
AUTHORS = (Role.OWNER, Role.CLINICIAN)  # the roles that write notes (and psychotherapy notes)


def author_for(role: Role) -> Role:
    """The author of the notes a route is tried on as `role`: the role itself if it writes
    notes, else the clinician (the route refuses that role anyway)."""
    return role if role in AUTHORS else Role.CLINICIAN


def as_form_data(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime.date) else v) for k, v in values.items() if v is not None}


class ChartWorld:
    def __init__(self, pw):
        self.pw = pw
        self._notes: dict = {}
        self._psychotherapy: dict = {}
        self._files: dict = {}
        self._patient = None

    def actor(self, role: Role) -> StaffActor:
        return StaffActor.from_membership(self.pw.memberships[role])

    def _context(self):
        return tenant_context(practice_id=self.pw.practice.id)

    @property
    def patient(self):
        if self._patient is None:
            from confide.records.services import do_update_patient, do_create_patient

            with self._context():
                patient = do_create_patient(actor=self.actor(Role.CLINICIAN), **FULL)
                do_update_patient(actor=self.actor(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", **REGISTRATION_EXTRA)
                do_update_patient(actor=self.actor(Role.BILLING), patient_id=patient.id, reason="patient_request", **BILLING_EXTRA)
            self._patient = patient
        return self._patient

    def note(self, role: Role, *, signed: bool):
        author = author_for(role)
        key = (author, signed)
        if key not in self._notes:
            from confide.records import notes

            with self._context():
                note = notes.do_create_note(actor=self.actor(author), patient_id=self.patient.id, template="soap", content=NOTE_CONTENT)
                if signed:
                    note = notes.do_sign_note(actor=self.actor(author), note_id=note.pk)
            self._notes[key] = note
        return self._notes[key]

    def psychotherapy_note(self, role: Role, *, signed: bool):
        author = author_for(role)
        key = (author, signed)
        if key not in self._psychotherapy:
            from confide.records import notes

            with self._context():
                note = notes.do_create_psychotherapy_note(actor=self.actor(author), patient_id=self.patient.id, text="Process note.")
                if signed:
                    note = notes.do_sign_psychotherapy_note(actor=self.actor(author), patient_id=self.patient.id, note_id=note.pk)
            self._psychotherapy[key] = note
        return self._psychotherapy[key]

    def representative_link(self):
        """A parent's portal link to the chart's patient (made once)."""
        if "link" not in self._files:
            from confide.accounts.models import LinkKind
            from tests.portal_world import link, make_portal_user

            user = make_portal_user(f"parent-{self.patient.id.hex[:8]}@portal.test", "Parent")
            self._files["link"] = link(user, self.patient, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=self.pw.owner)
        return self._files["link"]

    def file(self, kind: str):
        if kind == "authorization" and kind not in self._files:
            from confide.records.representatives import do_attach_representative_document

            with self._context():
                self._files[kind] = do_attach_representative_document(
                    actor=self.actor(Role.FRONT_DESK), patient_id=self.patient.id, link_id=self.representative_link().pk,
                    upload=pdf_upload(), title="An authorization",
                )  # fmt: skip
        if kind not in self._files:
            from confide.records.files import do_add_file

            upload = pdf_upload() if kind == "document" else png_upload()
            with self._context():
                self._files[kind] = do_add_file(
                    actor=self.actor(Role.CLINICIAN), patient_id=self.patient.id, kind=kind, upload=upload, title=f"A {kind}"
                )
        return self._files[kind]

    @property
    def medication_id(self) -> str:
        from confide.records.chart import get_clinical

        with self._context():
            return get_clinical(self.actor(Role.CLINICIAN), self.patient.id).lists["medications"].items[0].id

    def item_version(self, list_name: str, item_id: str) -> str:
        """The version of an item as the clinical page shows it (its mark form carries it)."""
        from confide.records.chart import get_clinical

        with self._context():
            return get_clinical(self.actor(Role.CLINICIAN), self.patient.id).lists[list_name].versions[item_id]

    def status_data(self, list_name: str, item_id: str, status: str, reason: str = "patient_request") -> dict:
        """What an item's mark form posts, with the item's current version."""
        return {"list_name": list_name, "item_id": item_id, "status": status, "reason": reason, "version": self.item_version(list_name, item_id)}

    def edit_form_data(self, form: str, role: Role = Role.OWNER) -> dict:
        """What the edit page shows `role` (its current values and their version), as form data,
        plus a reason: posting it back changes nothing."""
        from confide.records.chart import get_editable
        from confide.records.forms import InsuranceForm, RegistrationForm

        with self._context():
            editable = get_editable(self.actor(role), self.patient.id, form)
        if form == "registration":
            data = RegistrationForm.initial_from(editable.values)
        elif form == "insurance":
            data = InsuranceForm.initial_from(editable.values)
        else:
            data = dict(editable.values)
        return {**as_form_data(data), "reason": "immaterial", "version": editable.version}


def chart_world(pw) -> ChartWorld:
    """The chart objects of a practice world (one per world per test)."""
    if getattr(pw, "_chart_world", None) is None:
        pw._chart_world = ChartWorld(pw)
    return pw._chart_world
