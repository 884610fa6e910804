"""Writing a new note: SOAP or free text, saved as a draft."""

from __future__ import annotations

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import NoteStatus, ProgressNote
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes

NEW = "records:note-new"


def _notes(patient):
    with tenant_context(practice_id=patient.practice_id):
        return list(ProgressNote.objects.filter(patient_id=patient.id))


def test_a_clinician_writes_a_soap_draft(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    form = client.get(url(NEW, patient) + "?template=soap").content.decode()
    assert all(f'name="{s}"' in form for s in ("subjective", "objective", "assessment", "plan")) and 'name="text"' not in form
    response = client.post(url(NEW, patient), {"template": "soap", "subjective": "Tired.", "plan": "Rest."})
    [note] = _notes(patient)
    assert response.status_code == 302 and response["Location"].endswith(f"#note-{note.pk}")
    assert note.status == NoteStatus.DRAFT and note.template == "soap"


def test_a_clinician_writes_a_free_text_draft(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    assert 'name="text"' in client.get(url(NEW, patient) + "?template=free").content.decode()
    assert client.post(url(NEW, patient), {"template": "free", "text": "Phone call."}).status_code == 302
    assert [n.template for n in _notes(patient)] == ["free"]


def test_an_empty_note_is_refused_with_a_message(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(NEW, patient), {"template": "soap", "subjective": "   "})
    assert response.status_code == 400 and b"Write at least one section before saving the note." in response.content


def test_an_unknown_template_is_a_message(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(NEW, patient), {"template": "letter", "text": "x"})
    assert response.status_code == 400 and b"Choose a note template: SOAP or free text." in response.content
    assert client.get(url(NEW, patient) + "?template=letter").status_code == 400


def test_a_section_over_the_limit_is_refused(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(NEW, patient), {"template": "free", "text": "x" * 50_001})
    assert response.status_code == 400 and b"at most 50000 characters" in response.content


def test_front_desk_and_billing_cannot_write_a_note(signed_in, patient):
    for role in (Role.FRONT_DESK, Role.BILLING):
        client = signed_in(role)
        with assert_no_writes():
            assert client.get(url(NEW, patient)).status_code == 403
            assert client.post(url(NEW, patient), {"template": "free", "text": "x"}).status_code == 403
