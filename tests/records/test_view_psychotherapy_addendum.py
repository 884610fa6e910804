"""Addenda to a signed psychotherapy note, by its author only."""

from __future__ import annotations

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import PsychotherapyAddendum
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes

ADDENDUM = "records:psychotherapy-addendum"


def test_the_author_adds_an_addendum_to_a_signed_psychotherapy_note(signed_in, chart, patient):
    note = chart.psychotherapy_note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.CLINICIAN)
    assert client.post(url(ADDENDUM, patient, psychotherapy_note_id=note.pk), {"text": "Later reflection."}).status_code == 302
    with tenant_context(practice_id=patient.practice_id):
        assert PsychotherapyAddendum.objects.filter(note_id=note.pk).count() == 1
    assert b"Later reflection." in client.get(url("records:chart-psychotherapy", patient)).content


def test_a_draft_gets_no_addendum_and_an_empty_one_is_refused(signed_in, chart, patient):
    client = signed_in(Role.CLINICIAN)
    draft, signed = chart.psychotherapy_note(Role.CLINICIAN, signed=False), chart.psychotherapy_note(Role.CLINICIAN, signed=True)
    with assert_no_writes():
        on_draft = client.post(url(ADDENDUM, patient, psychotherapy_note_id=draft.pk), {"text": "x"})
        empty = client.post(url(ADDENDUM, patient, psychotherapy_note_id=signed.pk), {"text": ""})
    assert on_draft.status_code == 400 and b"addenda are for signed notes" in on_draft.content
    assert empty.status_code == 400 and b"Write the text first." in empty.content


def test_another_clinician_cannot_add_to_it(chart, patient, colleague_client):
    note = chart.psychotherapy_note(Role.CLINICIAN, signed=True)
    with assert_no_writes():
        assert colleague_client.post(url(ADDENDUM, patient, psychotherapy_note_id=note.pk), {"text": "x"}).status_code == 404
