"""Writing a psychotherapy note on the psychotherapy tab: kept apart, seen only by its author."""

from __future__ import annotations

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import PsychotherapyNote
from tests.conftest import CANARIES
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes

NEW = "records:psychotherapy-new"


def test_the_author_writes_a_psychotherapy_draft_and_sees_it(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    response = client.post(url(NEW, patient), {"psychotherapy-text": CANARIES["note"]})
    with tenant_context(practice_id=patient.practice_id):
        [note] = PsychotherapyNote.objects.filter(patient_id=patient.id)
    assert response.status_code == 302 and response["Location"].endswith(f"#psychotherapy-{note.pk}")
    assert CANARIES["note"].encode() in client.get(url("records:chart-psychotherapy", patient)).content


def test_an_empty_psychotherapy_note_is_refused_on_the_psychotherapy_tab(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(NEW, patient), {"psychotherapy-text": " "})
    assert response.status_code == 400 and b"Write the text first." in response.content
    assert b"<details class=\"add-item\" open>" in response.content


def test_front_desk_and_billing_cannot_write_one(signed_in, patient):
    for role in (Role.FRONT_DESK, Role.BILLING):
        client = signed_in(role)
        with assert_no_writes():
            assert client.post(url(NEW, patient), {"psychotherapy-text": "x"}).status_code == 403
