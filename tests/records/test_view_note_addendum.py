"""Adding an addendum to a signed note (REC3): signed when written, linked to the note."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import Addendum
from tests.records.conftest import HOSTILE, assert_escaped, entries, url
from tests.security.routes_helpers import assert_no_writes

ADDENDUM = "records:note-addendum"


def test_an_addendum_on_a_signed_note_is_signed_and_linked(signed_in, chart, patient):
    note = chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.CLINICIAN)
    assert b"Sleeps badly since March." in client.get(url(ADDENDUM, patient, note_id=note.pk)).content
    assert client.post(url(ADDENDUM, patient, note_id=note.pk), {"text": "Called back: better."}).status_code == 302
    with tenant_context(practice_id=patient.practice_id):
        [addendum] = Addendum.objects.filter(note_id=note.pk)
    assert addendum.status == "signed" and addendum.content_hash
    assert entries(AuditEvent.NOTE_ADDENDUM_SIGNED)[-1].detail["note_id"] == str(note.pk)


def test_any_treating_clinician_may_add_an_addendum(chart, patient, colleague_client):
    note = chart.note(Role.CLINICIAN, signed=True)
    assert colleague_client.post(url(ADDENDUM, patient, note_id=note.pk), {"text": "Second opinion."}).status_code == 302
    assert b"Second Clinician A" in colleague_client.get(url("records:chart-notes", patient)).content


def test_an_addendum_on_a_draft_or_an_empty_one_is_refused(signed_in, chart, patient):
    client = signed_in(Role.CLINICIAN)
    draft, signed = chart.note(Role.CLINICIAN, signed=False), chart.note(Role.CLINICIAN, signed=True)
    with assert_no_writes():
        on_draft = client.get(url(ADDENDUM, patient, note_id=draft.pk))
        empty = client.post(url(ADDENDUM, patient, note_id=signed.pk), {"text": "  "})
    assert on_draft.status_code == 400 and b"A draft is edited, not amended" in on_draft.content
    assert empty.status_code == 400 and b"Write the text first." in empty.content


def test_an_addendum_is_shown_escaped(signed_in, chart, patient):
    note = chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.CLINICIAN)
    client.post(url(ADDENDUM, patient, note_id=note.pk), {"text": HOSTILE})
    assert_escaped(client.get(url("records:chart-notes", patient)).content.decode())


def test_front_desk_cannot_add_an_addendum(signed_in, chart, patient):
    note = chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.FRONT_DESK)
    with assert_no_writes():
        assert client.post(url(ADDENDUM, patient, note_id=note.pk), {"text": "x"}).status_code == 403
