"""Editing a draft note: its author only, while it is a draft (REC3)."""

from __future__ import annotations

from uuid import uuid4

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import ProgressNote
from tests.records.chart_world import NOTE_CONTENT
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes

EDIT = "records:note-edit"


def _content(chart, note) -> dict:
    """The note's stored content, read through the door as its author."""
    from confide.access.door import open_chart
    from confide.core.purposes import Purpose

    with tenant_context(practice_id=note.practice_id):
        with open_chart(chart.actor(Role.CLINICIAN), note.patient_id, Purpose.TREATMENT, categories={"health.notes"}):
            return dict(ProgressNote.objects.get(pk=note.pk).content)


def test_the_author_edits_a_draft(signed_in, chart, patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    assert b"Sleeps badly since March." in client.get(url(EDIT, patient, note_id=draft.pk)).content
    response = client.post(url(EDIT, patient, note_id=draft.pk), {"template": "soap", **NOTE_CONTENT, "plan": "Review in 1 week."})
    assert response.status_code == 302
    assert _content(chart, draft)["plan"] == "Review in 1 week."


def test_another_clinician_cannot_edit_a_draft(chart, patient, colleague_client):
    draft = chart.note(Role.CLINICIAN, signed=False)
    with assert_no_writes():
        assert colleague_client.get(url(EDIT, patient, note_id=draft.pk)).status_code == 403
        assert colleague_client.post(url(EDIT, patient, note_id=draft.pk), {"template": "soap", "plan": "mine"}).status_code == 403
    assert _content(chart, draft) == NOTE_CONTENT


def test_rec3_a_signed_note_cannot_be_edited_and_gets_an_addendum(signed_in, chart, patient):
    signed = chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        page = client.get(url(EDIT, patient, note_id=signed.pk))
        post = client.post(url(EDIT, patient, note_id=signed.pk), {"template": "soap", **NOTE_CONTENT, "plan": "Rewritten."})
    assert page.status_code == post.status_code == 400
    assert b"A signed note is never changed: add an addendum instead." in post.content
    assert _content(chart, signed) == NOTE_CONTENT
    added = client.post(url("records:note-addendum", patient, note_id=signed.pk), {"text": "Plan: review in 1 week."})
    assert added.status_code == 302
    body = client.get(url("records:chart-notes", patient)).content.decode()
    assert "Plan: review in 1 week." in body and "Review in 2 weeks." in body


def test_saving_an_unchanged_draft_says_nothing_changed(signed_in, chart, patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(EDIT, patient, note_id=draft.pk), {"template": "soap", **NOTE_CONTENT})
    assert response.status_code == 200 and b"Nothing changed: the draft already says this." in response.content


def test_a_template_cannot_be_switched_by_posting_another(signed_in, chart, patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(EDIT, patient, note_id=draft.pk), {"template": "free", "text": "switched"})
    assert response.status_code == 400 and b"cannot change" in response.content


def test_a_note_under_another_patient_or_a_missing_one_is_a_404(signed_in, chart, patient, make_patient):
    draft = chart.note(Role.CLINICIAN, signed=False)
    other = make_patient(given_name="Other", family_name="Patient")
    client = signed_in(Role.CLINICIAN)
    assert client.get(url(EDIT, other, note_id=draft.pk)).status_code == 404
    assert client.get(url(EDIT, patient, note_id=uuid4())).status_code == 404
