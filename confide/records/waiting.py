"""What waits for a member of staff in the records package, counted for the dashboard
(confide/core/dashboard.py): consultations to review, and the member's own notes to sign.
Counts of rows by status and author: no chart is opened."""

from __future__ import annotations

from django.urls import reverse

from confide.core.actors import StaffActor
from confide.core.dashboard import Waiting, register
from confide.core.permissions import Perm


def _consultations(actor: StaffActor) -> int:
    from confide.records.models import IntakeSubmission

    return IntakeSubmission.objects.filter(status=IntakeSubmission.Status.RECEIVED).count()


def _drafts(actor: StaffActor):
    from confide.records.models import NoteStatus, ProgressNote, PsychotherapyNote

    progress = ProgressNote.objects.filter(author_id=actor.user_id, status=NoteStatus.DRAFT)
    psychotherapy = PsychotherapyNote.objects.filter(author_id=actor.user_id, status=NoteStatus.DRAFT)
    return progress, psychotherapy


def _notes_to_sign(actor: StaffActor) -> int:
    progress, psychotherapy = _drafts(actor)
    return progress.count() + psychotherapy.count()


def _notes_link(actor: StaffActor) -> str:
    """The tab of the oldest draft (an id in the URL, no name), else the patient list."""
    progress, psychotherapy = _drafts(actor)
    oldest = [(row["created_at"], row["patient_id"], name) for name, query in
              (("records:chart-notes", progress), ("records:chart-psychotherapy", psychotherapy))
              for row in query.order_by("created_at").values("created_at", "patient_id")[:1]]  # fmt: skip
    if not oldest:
        return reverse("records:patient-list")
    _, patient_id, name = min(oldest)
    return reverse(name, kwargs={"patient_id": patient_id})


def register_counts() -> None:
    register(Waiting("consultations", "Consultations waiting", Perm.INTAKE_REVIEW, _consultations,
                     lambda actor: reverse("intake:queue"), order=10))  # fmt: skip
    register(Waiting("notes-to-sign", "Your notes to sign", Perm.CHART_WRITE, _notes_to_sign, _notes_link, order=20))
