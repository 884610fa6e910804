"""confide/records/notes.py: draft → signed (locked at service and model level) → addenda
(REC3); the content hash; only the author edits and signs; psychotherapy notes kept apart."""

from __future__ import annotations

import pytest

from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound, NothingChanged
from confide.core.permissions import Role
from confide.records import notes
from confide.records.models import Addendum, NoteStatus, ProgressNote, PsychotherapyNote
from tests.access.conftest import shape, who
from tests.conftest import CANARIES
from tests.records.chart_world import NOTE_CONTENT
from tests.vault.decrypts import decrypts, opened  # noqa: F401 (decrypts is a fixture)

pytestmark = pytest.mark.usefixtures("in_a")


def _new_entries(after_id: int) -> list[tuple]:
    return [(e.event, tuple(e.categories)) for e in AuditEntry.objects.filter(id__gt=after_id).order_by("id")]


def _mark() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_rec3_signing_locks_the_note_at_service_and_model_level(chart, patient):
    clinician = chart.actor(Role.CLINICIAN)
    note = notes.do_create_note(actor=clinician, patient_id=patient.id, content=NOTE_CONTENT)
    notes.do_sign_note(actor=clinician, note_id=note.pk)

    with pytest.raises(InvalidInput, match="never changed: add an addendum"):
        notes.do_update_draft(actor=clinician, note_id=note.pk, content={**NOTE_CONTENT, "plan": "changed"})
    with pytest.raises(InvalidInput, match="already signed"):
        notes.do_sign_note(actor=clinician, note_id=note.pk)
    # No other code path either: the model refuses to save or delete a signed row.
    stored = ProgressNote.objects.get(pk=note.pk)
    stored.status = NoteStatus.DRAFT
    with pytest.raises(RuntimeError, match="never changed in place"):
        stored.save()
    with pytest.raises(RuntimeError, match="never deleted"):
        stored.delete()
    assert ProgressNote.objects.get(pk=note.pk).status == NoteStatus.SIGNED


def test_rec3_changes_to_a_signed_note_are_signed_addenda_linked_to_it(chart, patient):
    clinician = chart.actor(Role.CLINICIAN)
    note = chart.note(Role.CLINICIAN, signed=True)
    addendum = notes.do_add_addendum(actor=clinician, note_id=note.pk, text="Also discussed sleep hygiene.")
    assert addendum.note_id == note.pk and addendum.status == NoteStatus.SIGNED and addendum.content_hash
    with pytest.raises(RuntimeError):
        addendum.save()
    [view] = [n for n in notes.list_notes(clinician, patient.id) if n.id == note.pk]
    assert [(text, intact) for _, _, text, intact in view.addenda] == [("Also discussed sleep hygiene.", True)]


def test_an_addendum_is_only_for_a_signed_note_and_is_never_empty(chart):
    clinician = chart.actor(Role.CLINICIAN)
    with pytest.raises(InvalidInput, match="addenda are for signed notes"):
        notes.do_add_addendum(actor=clinician, note_id=chart.note(Role.CLINICIAN, signed=False).pk, text="x")
    with pytest.raises(InvalidInput, match="Write the text first"):
        notes.do_add_addendum(actor=clinician, note_id=chart.note(Role.CLINICIAN, signed=True).pk, text="   ")
    assert not Addendum.objects.exists()


def test_the_content_hash_verifies_the_signed_text_and_catches_a_change(chart, patient):
    from confide.access.door import open_chart
    from confide.core.purposes import Purpose

    note = chart.note(Role.CLINICIAN, signed=True)
    signed_entry = AuditEntry.objects.filter(event=AuditEvent.NOTE_SIGNED).latest("id")
    assert signed_entry.detail["content_hash"] == note.content_hash
    assert note.content_hash == notes.content_hash(note.content_salt, NOTE_CONTENT)
    with open_chart(chart.actor(Role.CLINICIAN), patient.id, Purpose.TREATMENT, categories={"health.notes"}):
        stored = ProgressNote.objects.get(pk=note.pk)
        assert notes.verify_signed(stored)
        stored.content = {**NOTE_CONTENT, "assessment": "Worse."}  # in memory only: the lock holds in the database
        assert not notes.verify_signed(stored)
    # The salt keeps the hash from being a dictionary of short texts: the same text, another hash.
    other = chart.note(Role.OWNER, signed=True)
    assert other.content_hash != note.content_hash


def test_only_the_author_edits_and_signs_a_draft(chart, colleague):
    draft = chart.note(Role.CLINICIAN, signed=False)
    _, other = colleague
    for attempt in (
        lambda: notes.do_update_draft(actor=other, note_id=draft.pk, content={**NOTE_CONTENT, "plan": "mine now"}),
        lambda: notes.do_sign_note(actor=other, note_id=draft.pk),
        lambda: notes.do_update_draft(actor=chart.actor(Role.OWNER), note_id=draft.pk, content=NOTE_CONTENT),
    ):
        with pytest.raises(Forbidden, match="only the author"):
            attempt()
    assert ProgressNote.objects.get(pk=draft.pk).status == NoteStatus.DRAFT


def test_front_desk_and_billing_write_no_notes_and_the_door_records_nothing_opened(chart, patient):
    for role in (Role.FRONT_DESK, Role.BILLING, Role.PRIVACY_OFFICER):
        with pytest.raises(Forbidden):
            notes.do_create_note(actor=chart.actor(role), patient_id=patient.id, content=NOTE_CONTENT)
    with pytest.raises(AccessRefused):
        notes.list_notes(chart.actor(Role.FRONT_DESK), patient.id)
    assert not ProgressNote.objects.exists()


def test_each_note_service_writes_exactly_its_audit_entries(chart, patient):
    clinician = chart.actor(Role.CLINICIAN)
    start = _mark()
    note = notes.do_create_note(actor=clinician, patient_id=patient.id, template="free", content={"text": "First visit."})
    notes.do_update_draft(actor=clinician, note_id=note.pk, content={"text": "First visit, 50 minutes."})
    notes.do_sign_note(actor=clinician, note_id=note.pk)
    notes.do_add_addendum(actor=clinician, note_id=note.pk, text="Late entry.")
    assert _new_entries(start) == [
        ("records:chart:opened", ("health.notes",)), ("records:note:created", ("health.notes",)),
        ("records:chart:opened", ("health.notes",)), ("records:note:updated", ("health.notes",)),
        ("records:chart:opened", ("health.notes",)), ("records:note:signed", ("health.notes",)),
        ("records:chart:opened", ("health.notes",)), ("records:note:addendum-signed", ("health.notes",)),
    ]  # fmt: skip
    signed = AuditEntry.objects.get(event=AuditEvent.NOTE_SIGNED)
    assert shape(signed) | {"resource": signed.resource_ids} == {
        "event": "records:note:signed", "chain": str(patient.practice_id), "actor": who(clinician), "subject": str(patient.id),
        "purpose": "treatment", "categories": ["health.notes"], "outcome": "ok", "reason": "", "flagged": False,
        "resource": [str(note.pk)],
    }  # fmt: skip
    # Ids and a hash only: no clinical text in the log.
    for entry in AuditEntry.objects.filter(id__gt=start):
        assert "First visit" not in str(entry.detail) and "Late entry" not in str(entry.detail)


def test_saving_an_unchanged_draft_is_nothing_changed_and_writes_nothing(chart):
    draft = chart.note(Role.CLINICIAN, signed=False)
    start = _mark()
    with pytest.raises(NothingChanged):
        notes.do_update_draft(actor=chart.actor(Role.CLINICIAN), note_id=draft.pk, content=NOTE_CONTENT)
    assert [event for event, _ in _new_entries(start)] == ["records:chart:opened"]


def test_a_note_named_under_another_patient_or_another_practice_is_not_found(world, chart, make_patient):
    clinician = chart.actor(Role.CLINICIAN)
    draft = chart.note(Role.CLINICIAN, signed=False)
    other = make_patient(given_name="Other", family_name="Patient")
    with pytest.raises(NotFound):
        notes.do_sign_note(actor=clinician, note_id=draft.pk, patient_id=other.id)
    with pytest.raises(NotFound):
        notes.do_update_draft(actor=clinician, note_id=draft.pk, patient_id=other.id, content=NOTE_CONTENT)
    from confide.core.tenancy import tenant_context
    from tests.records.chart_world import chart_world

    b_note = chart_world(world.b).note(Role.CLINICIAN, signed=False)
    with pytest.raises(NotFound):
        notes.do_sign_note(actor=clinician, note_id=b_note.pk)
    with tenant_context(practice_id=world.b.practice.id):
        assert PsychotherapyNote.objects.count() == 0 and ProgressNote.objects.get(pk=b_note.pk).status == NoteStatus.DRAFT


def test_note_content_is_checked_before_anything_is_written(chart, patient):
    clinician = chart.actor(Role.CLINICIAN)
    for template, content, message in [
        ("letter", {"text": "x"}, "Choose a note template"),
        ("soap", {"diagnosis": "x"}, "has no section"),
        ("soap", {"plan": 42}, "must be text"),
        ("free", {"text": "x" * (notes.TEXT_LIMIT + 1)}, "limited to"),
        ("free", "just a string", "content is its sections"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            notes.do_create_note(actor=clinician, patient_id=patient.id, template=template, content=content)
    assert not ProgressNote.objects.exists()


# --- psychotherapy notes -----------------------------------------------------------------------
def test_psychotherapy_notes_are_invisible_to_another_clinician_to_the_owner_and_to_front_desk(chart, patient, colleague):
    author = chart.actor(Role.CLINICIAN)
    note = notes.do_create_psychotherapy_note(actor=author, patient_id=patient.id, text=CANARIES["note"])
    assert [n["text"] for n in notes.list_psychotherapy_notes(author, patient.id)] == [CANARIES["note"]]

    assert notes.list_psychotherapy_notes(colleague[1], patient.id) == []
    assert notes.list_psychotherapy_notes(chart.actor(Role.OWNER), patient.id) == []
    for role in (Role.FRONT_DESK, Role.BILLING, Role.PRIVACY_OFFICER):
        with pytest.raises(AccessRefused):
            notes.list_psychotherapy_notes(chart.actor(role), patient.id)
    # Nor can they act on it: to anyone but its author the note does not exist.
    for actor in (colleague[1], chart.actor(Role.OWNER)):
        with pytest.raises(NotFound):
            notes.do_sign_psychotherapy_note(actor=actor, patient_id=patient.id, note_id=note.pk)
    # And the chart door never opens the category, not even by breaking the glass.
    from confide.access.door import open_chart
    from confide.core.purposes import Purpose

    with pytest.raises(AccessRefused, match="author"):
        with open_chart(colleague[1], patient.id, Purpose.TREATMENT, categories={"health.psychotherapy_notes"},
                        break_glass_reason="Emergency: patient in crisis, need history"):  # fmt: skip
            pass


def test_a_psychotherapy_note_is_signed_once_and_then_only_gets_addenda(chart, patient):
    author = chart.actor(Role.CLINICIAN)
    note = notes.do_create_psychotherapy_note(actor=author, patient_id=patient.id, text="Process note.")
    with pytest.raises(InvalidInput, match="addenda are for signed notes"):
        notes.do_add_psychotherapy_addendum(actor=author, patient_id=patient.id, note_id=note.pk, text="x")
    notes.do_sign_psychotherapy_note(actor=author, patient_id=patient.id, note_id=note.pk)
    with pytest.raises(InvalidInput, match="already signed"):
        notes.do_sign_psychotherapy_note(actor=author, patient_id=patient.id, note_id=note.pk)
    notes.do_add_psychotherapy_addendum(actor=author, patient_id=patient.id, note_id=note.pk, text="Follow-up thought.")
    [listed] = notes.list_psychotherapy_notes(author, patient.id)
    assert listed["status"] == "signed" and listed["intact"] is True
    assert [(a["text"], a["intact"]) for a in listed["addenda"]] == [("Follow-up thought.", True)]
    stored = PsychotherapyNote.objects.get(pk=note.pk)
    with pytest.raises(RuntimeError):
        stored.save()
    for entry in AuditEntry.objects.filter(event__in=[AuditEvent.NOTE_CREATED, AuditEvent.NOTE_SIGNED, AuditEvent.NOTE_ADDENDUM_SIGNED]):
        assert entry.categories == ["health.psychotherapy_notes"] and "Process note" not in str(entry.detail)


def test_listing_notes_opens_each_note_and_addendum_once(chart, patient, decrypts):
    clinician = chart.actor(Role.CLINICIAN)
    signed = chart.note(Role.CLINICIAN, signed=True)
    notes.do_add_addendum(actor=clinician, note_id=signed.pk, text="Also discussed sleep hygiene.")
    decrypts.clear()
    [view] = [n for n in notes.list_notes(clinician, patient.id) if n.id == signed.pk]
    assert view.intact and view.content == NOTE_CONTENT and [intact for *_, intact in view.addenda] == [True]
    assert opened(decrypts, "records_progressnote", "content") == 1
    assert opened(decrypts, "records_addendum", "content") == 1
