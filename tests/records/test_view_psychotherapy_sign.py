"""Signing a psychotherapy note: its author only (to anyone else it does not exist: 404)."""

from __future__ import annotations

from uuid import uuid4

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import NoteStatus, PsychotherapyNote
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes, normalise

SIGN = "records:psychotherapy-sign"


def _status(note):
    with tenant_context(practice_id=note.practice_id):
        return PsychotherapyNote.objects.get(pk=note.pk).status


def test_the_author_confirms_and_signs(signed_in, chart, patient):
    note = chart.psychotherapy_note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    page = client.get(url(SIGN, patient, psychotherapy_note_id=note.pk))
    assert page.status_code == 200 and b"Sign this psychotherapy note?" in page.content and b"Process note." in page.content
    assert client.post(url(SIGN, patient, psychotherapy_note_id=note.pk), {"confirm": "yes"}).status_code == 302
    assert _status(note) == NoteStatus.SIGNED
    again = client.get(url(SIGN, patient, psychotherapy_note_id=note.pk))
    assert again.status_code == 400 and b"already signed" in again.content


def test_another_clinician_or_the_owner_gets_the_same_404_as_for_a_missing_note(signed_in, chart, patient, colleague_client):
    note = chart.psychotherapy_note(Role.CLINICIAN, signed=False)
    owner = signed_in(Role.OWNER)
    for client in (colleague_client, owner):
        with assert_no_writes():
            theirs = client.post(url(SIGN, patient, psychotherapy_note_id=note.pk), {"confirm": "yes"})
            missing = client.post(url(SIGN, patient, psychotherapy_note_id=uuid4()), {"confirm": "yes"})
        assert theirs.status_code == missing.status_code == 404
        assert normalise(theirs.content) == normalise(missing.content) and b"Process note." not in theirs.content
    assert _status(note) == NoteStatus.DRAFT


def test_a_post_without_the_confirmation_signs_nothing(signed_in, chart, patient):
    note = chart.psychotherapy_note(Role.CLINICIAN, signed=False)
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        assert client.post(url(SIGN, patient, psychotherapy_note_id=note.pk), {}).status_code == 400
