"""Clinical notes: draft → signed (locked) → addenda (REC3); psychotherapy notes kept apart.

    note = do_create_note(actor=…, patient_id=…, template="soap", content={...})
    do_update_draft(actor=…, note_id=…, content={...})     # the author, while it is a draft
    do_sign_note(actor=…, note_id=…)                        # locks it; the audit entry carries its hash
    do_add_addendum(actor=…, note_id=…, text="…")           # the only way to add to a signed note

Progress notes are opened through the chart door (category health.notes, purpose treatment);
the services that write open it for update (the patient's row locked for the block, so the
door's check that nothing else of the row changed is exact under concurrent saves).
Psychotherapy notes go through `open_psychotherapy_notes`, the door that only ever hands an
author their own notes; they have their own table and category, and the same lifecycle.

A signed note is never altered in place: the services refuse, and the models refuse too
(`_SignedText.save` and `.delete`), so no other code path can either. `content_hash` is SHA-256 over a
per-note random salt and the canonical content; `verify_signed(note)` recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass

from django.utils import timezone

from confide.access.door import open_chart, open_psychotherapy_notes
from confide.core.purposes import Purpose
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound, NothingChanged
from confide.core.permissions import Perm
from confide.core.text import line_problem, lower_first
from confide.records.models import Addendum, NoteStatus, NoteTemplate, ProgressNote, PsychotherapyAddendum, PsychotherapyNote

NOTES = "health.notes"
PSYCHOTHERAPY = "health.psychotherapy_notes"
SOAP_SECTIONS = ("subjective", "objective", "assessment", "plan")
TEXT_LIMIT = 50_000


# --- content -----------------------------------------------------------------------------------
def clean_content(template: str, content) -> dict:
    """A note's content as stored: SOAP sections, or {"text": …} for a free note."""
    if template not in NoteTemplate.values:
        raise InvalidInput("Choose a note template: SOAP or free text.")
    if not isinstance(content, dict):
        raise InvalidInput("A note's content is its sections.")
    sections = SOAP_SECTIONS if template == NoteTemplate.SOAP else ("text",)
    unknown = set(content) - set(sections)
    if unknown:
        raise InvalidInput(f"A {template} note has no section {sorted(unknown)[0][:30]!r}.")
    cleaned = {}
    for name in sections:
        value = content.get(name, "")
        if not isinstance(value, str):
            raise InvalidInput(f"The {name} section must be text.")
        if len(value) > TEXT_LIMIT:
            raise InvalidInput(f"The {name} section is limited to {TEXT_LIMIT} characters.")
        _check_lines(f"The {name} section", value)
        cleaned[name] = value.strip()
    return cleaned


def _check_lines(label: str, value: str) -> None:
    """Notes keep their line breaks, and nothing else invisible (confide/core/text.py)."""
    problem = line_problem(value, multiline=True)
    if problem:
        raise InvalidInput(f"{label}: {lower_first(problem[1])}")


def _clean_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Write the text first.")
    if len(text) > TEXT_LIMIT:
        raise InvalidInput(f"The text is limited to {TEXT_LIMIT} characters.")
    _check_lines("The text", text)
    return text.strip()


def content_hash(salt: str, content) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{salt}\x1f{canonical}".encode()).hexdigest()


def _seal(row, content) -> str:
    row.content_salt = secrets.token_hex(16)
    row.content_hash = content_hash(row.content_salt, content)
    row.status = NoteStatus.SIGNED
    row.signed_at = timezone.now()
    return row.content_hash


def verify_signed(row, content=None) -> bool:
    """Inside an open door: is the signed row's content what was signed? Pass `content` when
    the caller has already read it (a page shows and checks the same decoded value)."""
    if row.status != NoteStatus.SIGNED:
        return False
    return content_hash(row.content_salt, row.content if content is None else content) == row.content_hash


def _sign_addendum(model, note, patient, actor, text: str, category: str, request):
    """Inside an open door: an addendum to a signed `note`, signed as it is written, and its entry."""
    if note.status != NoteStatus.SIGNED:
        raise InvalidInput("A draft is edited, not amended: addenda are for signed notes.")
    addendum = model(practice_id=note.practice_id, patient=patient, note=note, author_id=actor.user_id)
    addendum.content = text
    digest = _seal(addendum, text)
    addendum.save()
    _audit(AuditEvent.NOTE_ADDENDUM_SIGNED, actor, addendum, category, request=request,
           detail={"note_id": str(note.pk), "content_hash": digest})  # fmt: skip
    return addendum


def _check_writer(actor) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)


def _audit(event: AuditEvent, actor, row, category: str, *, request=None, detail=None) -> None:
    record(
        event,
        practice_id=row.practice_id,
        actor=actor,
        purpose=Purpose.TREATMENT.value,
        subject_id=row.patient_id,
        resource_ids=[row.pk],
        categories={category},
        detail=detail or {},
        request=request,
    )


# --- progress notes ----------------------------------------------------------------------------
@dataclass(frozen=True)
class NoteView:
    id: uuid.UUID
    template: str
    status: str
    author_id: int
    created_at: object
    signed_at: object
    content: dict
    addenda: tuple
    intact: bool  # signed: the content still hashes to what was signed


def _note(patient_id, note_id, model=ProgressNote):
    note = model.objects.filter(pk=note_id, patient_id=patient_id).first() if note_id else None
    if note is None:
        raise NotFound("note")
    return note


def _patient_of(note_id, model=ProgressNote, patient_id=None):
    """(the note's patient id, the note's pk); NotFound for a missing note, another practice's,
    or — when the caller names the patient (a URL does) — another patient's."""
    try:
        pk = uuid.UUID(str(note_id))
    except ValueError:
        raise NotFound("note") from None
    owner = model.objects.filter(pk=pk).values_list("patient_id", flat=True).first()
    if owner is None or (patient_id is not None and str(owner) != str(patient_id)):
        raise NotFound("note")
    return owner, pk


def check_editable(actor: StaffActor, note) -> None:
    """Only its author edits a note, and only while it is a draft (REC3). `note`: a row, or
    anything with its `author_id` and `status` (the chart's NoteItem)."""
    if note.author_id != actor.user_id:
        raise Forbidden("only the author edits a draft")
    if note.status != NoteStatus.DRAFT:
        raise InvalidInput("A signed note is never changed: add an addendum instead.")


def check_signable(actor: StaffActor, note) -> None:
    """Only its author signs a note, once, and not while it is empty."""
    if note.author_id != actor.user_id:
        raise Forbidden("only the author signs a note")
    if note.status != NoteStatus.DRAFT:
        raise InvalidInput("This note is already signed.")
    if not any(str(v).strip() for v in dict(note.content).values()):
        raise InvalidInput("An empty note cannot be signed.")


def do_create_note(*, actor: StaffActor, patient_id, template: str = NoteTemplate.SOAP, content: dict, request=None) -> ProgressNote:
    _check_writer(actor)
    cleaned = clean_content(template, content)
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={NOTES}, request=request, for_update=True) as chart:
        note = ProgressNote(practice_id=chart.patient.practice_id, patient=chart.patient, author_id=actor.user_id, template=template)
        note.content = cleaned
        note.save()
        _audit(AuditEvent.NOTE_CREATED, actor, note, NOTES, request=request)
    return note


def do_update_draft(*, actor: StaffActor, note_id, content: dict, patient_id=None, request=None) -> ProgressNote:
    _check_writer(actor)
    patient_id, pk = _patient_of(note_id, patient_id=patient_id)
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={NOTES}, request=request, for_update=True):
        note = ProgressNote.objects.select_for_update().get(pk=pk)
        check_editable(actor, note)
        cleaned = clean_content(note.template, content)
        if cleaned == note.content:
            raise NothingChanged("Nothing changed: the draft already says this.")
        note.content = cleaned
        note.save(update_fields=["content", "updated_at"])
        _audit(AuditEvent.NOTE_UPDATED, actor, note, NOTES, request=request)
    return note


def do_sign_note(*, actor: StaffActor, note_id, patient_id=None, request=None) -> ProgressNote:
    _check_writer(actor)
    patient_id, pk = _patient_of(note_id, patient_id=patient_id)
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={NOTES}, request=request, for_update=True):
        note = ProgressNote.objects.select_for_update().get(pk=pk)
        check_signable(actor, note)
        digest = _seal(note, note.content)
        note.save(update_fields=["status", "signed_at", "content_salt", "content_hash", "updated_at"])
        _audit(AuditEvent.NOTE_SIGNED, actor, note, NOTES, request=request, detail={"content_hash": digest})
    return note


def do_add_addendum(*, actor: StaffActor, note_id, text: str, patient_id=None, request=None) -> Addendum:
    _check_writer(actor)
    text = _clean_text(text)
    patient_id, pk = _patient_of(note_id, patient_id=patient_id)
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={NOTES}, request=request, for_update=True) as chart:
        return _sign_addendum(Addendum, ProgressNote.objects.get(pk=pk), chart.patient, actor, text, NOTES, request)


def list_notes(actor: StaffActor, patient_id, *, request=None) -> list[NoteView]:
    """The patient's progress notes, newest first, with their addenda (through the door)."""
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={NOTES}, request=request) as chart:
        notes = list(ProgressNote.objects.filter(patient_id=chart.patient.pk).order_by("-created_at"))
        addenda: dict = {}
        for addendum in Addendum.objects.filter(patient_id=chart.patient.pk).order_by("created_at"):
            addenda.setdefault(addendum.note_id, []).append(addendum)
        return [_note_view(n, addenda.get(n.pk, [])) for n in notes]


def _addendum_view(addendum) -> tuple:
    text = addendum.content
    return addendum.author_id, addendum.signed_at, str(text), verify_signed(addendum, text)


def _note_view(note, addenda) -> NoteView:
    content = note.content  # read once: shown and hash-checked as the same value
    return NoteView(
        id=note.pk, template=note.template, status=note.status, author_id=note.author_id, created_at=note.created_at,
        signed_at=note.signed_at, content=dict(content),
        addenda=tuple(_addendum_view(a) for a in addenda),
        intact=note.status != NoteStatus.SIGNED or verify_signed(note, content),
    )  # fmt: skip


# --- psychotherapy notes -------------------------------------------------------------------------
def do_create_psychotherapy_note(*, actor: StaffActor, patient_id, text: str, request=None) -> PsychotherapyNote:
    _check_writer(actor)
    text = _clean_text(text)
    with open_psychotherapy_notes(actor, patient_id, request=request) as chart:
        note = PsychotherapyNote(practice_id=chart.patient.practice_id, patient=chart.patient, author_id=actor.user_id)
        note.content = text
        note.save()
        _audit(AuditEvent.NOTE_CREATED, actor, note, PSYCHOTHERAPY, request=request)
    return note


def _own_psychotherapy_note(chart, note_id) -> PsychotherapyNote:
    # The door handed over this author's notes only: another's note is simply not among them.
    note = next((n for n in chart.notes if str(n.pk) == str(note_id)), None)
    if note is None:
        raise NotFound("note")
    return note


def do_sign_psychotherapy_note(*, actor: StaffActor, patient_id, note_id, request=None) -> PsychotherapyNote:
    _check_writer(actor)
    with open_psychotherapy_notes(actor, patient_id, request=request) as chart:
        note = _own_psychotherapy_note(chart, note_id)
        if note.status != NoteStatus.DRAFT:
            raise InvalidInput("This note is already signed.")
        digest = _seal(note, str(note.content))
        note.save(update_fields=["status", "signed_at", "content_salt", "content_hash", "updated_at"])
        _audit(AuditEvent.NOTE_SIGNED, actor, note, PSYCHOTHERAPY, request=request, detail={"content_hash": digest})
    return note


def do_add_psychotherapy_addendum(*, actor: StaffActor, patient_id, note_id, text: str, request=None) -> PsychotherapyAddendum:
    _check_writer(actor)
    text = _clean_text(text)
    with open_psychotherapy_notes(actor, patient_id, request=request) as chart:
        return _sign_addendum(PsychotherapyAddendum, _own_psychotherapy_note(chart, note_id), chart.patient, actor, text, PSYCHOTHERAPY, request)


def list_psychotherapy_notes(actor: StaffActor, patient_id, *, request=None) -> list[dict]:
    """The actor's own psychotherapy notes for the patient, newest first (nobody else's), each
    with its addenda and, once signed, whether its content still matches its signature."""
    with open_psychotherapy_notes(actor, patient_id, request=request) as chart:
        return psychotherapy_items(chart)


def psychotherapy_items(chart) -> list[dict]:
    """The notes of an open psychotherapy door (newest first) as the page shows them."""
    ids = [n.pk for n in chart.notes]
    addenda: dict = {}
    for addendum in PsychotherapyAddendum.objects.filter(note_id__in=ids).order_by("created_at"):
        addenda.setdefault(addendum.note_id, []).append(
            {"signed_at": addendum.signed_at, "text": str(addendum.content), "intact": verify_signed(addendum)}
        )
    return [
        {"id": n.pk, "status": n.status, "created_at": n.created_at, "signed_at": n.signed_at, "text": str(n.content),
         "intact": n.status != NoteStatus.SIGNED or verify_signed(n), "addenda": addenda.get(n.pk, [])}
        for n in chart.notes
    ]  # fmt: skip
