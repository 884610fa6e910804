"""Signing a note: a confirmation step, the author only, once; the audit entry carries the hash."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import notes
from confide.records.models import NoteStatus, ProgressNote
from tests.records.conftest import entries, url
from tests.security.routes_helpers import assert_no_writes

SIGN = "records:note-sign"


def _status(note):
    with tenant_context(practice_id=note.practice_id):
        return ProgressNote.objects.get(pk=note.pk).status


def test_signing_asks_for_confirmation_first(signed_in, chart, patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        page = client.get(url(SIGN, patient, note_id=draft.pk))
    assert page.status_code == 200 and b"Sign this note?" in page.content and b"Sleeps badly since March." in page.content
    assert b'name="confirm" value="yes"' in page.content and _status(draft) == NoteStatus.DRAFT


def test_the_author_signs_and_the_audit_entry_carries_the_content_hash(signed_in, chart, patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    response = signed_in(Role.CLINICIAN).post(url(SIGN, patient, note_id=draft.pk), {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"].endswith(f"#note-{draft.pk}")
    assert _status(draft) == NoteStatus.SIGNED
    with tenant_context(practice_id=draft.practice_id):
        stored = ProgressNote.objects.get(pk=draft.pk)
    assert entries(AuditEvent.NOTE_SIGNED)[-1].detail == {"content_hash": stored.content_hash}


def test_a_post_without_the_confirmation_signs_nothing(signed_in, chart, patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(SIGN, patient, note_id=draft.pk), {"confirm": "maybe"})
    assert response.status_code == 400 and b"Confirm the signature" in response.content
    assert _status(draft) == NoteStatus.DRAFT


def test_another_clinician_cannot_sign_and_a_signed_note_is_not_signed_again(chart, patient, colleague_client, signed_in):
    draft = chart.note(Role.CLINICIAN, signed=False)
    with assert_no_writes():
        assert colleague_client.post(url(SIGN, patient, note_id=draft.pk), {"confirm": "yes"}).status_code == 403
    signed = chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        again = client.post(url(SIGN, patient, note_id=signed.pk), {"confirm": "yes"})
    assert again.status_code == 400 and b"This note is already signed." in again.content


def test_an_empty_draft_cannot_be_signed(signed_in, chart, patient, in_a):
    empty = notes.do_create_note(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, template="free", content={"text": ""})
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(SIGN, patient, note_id=empty.pk), {"confirm": "yes"})
    assert response.status_code == 400 and b"An empty note cannot be signed." in response.content
