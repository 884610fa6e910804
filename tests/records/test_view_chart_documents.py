"""The documents tab: documents, photos for roles granted them, the upload form."""

from __future__ import annotations

from confide.core.permissions import Role
from confide.records import files
from tests.records.conftest import HOSTILE, assert_escaped, denied, tab_names, url
from tests.records.uploads import pdf_upload

DOCUMENTS = "records:chart-documents"


def test_a_clinician_sees_documents_photos_and_the_upload_form(signed_in, chart, patient):
    chart.file("document"), chart.file("photo")
    body = signed_in(Role.CLINICIAN).get(url(DOCUMENTS, patient)).content.decode()
    assert "A document" in body and "A photo" in body and 'data-testid="photos"' in body
    assert 'enctype="multipart/form-data"' in body and '<option value="photo">' in body
    assert url("records:document-download", patient, document_id=chart.file("document").pk) in body
    assert url("records:photo-view", patient, photo_id=chart.file("photo").pk) in body


def test_front_desk_never_sees_the_documents_tab(signed_in, chart, patient):
    chart.file("document")
    client = signed_in(Role.FRONT_DESK)
    assert "documents" not in tab_names(client.get(url("records:chart", patient)).content.decode())
    assert client.get(url(DOCUMENTS, patient)).status_code == 403 and denied()[-1].actor_role == "front_desk"


def test_billing_never_sees_photos_nor_the_documents_tab(signed_in, chart, patient):
    chart.file("photo")
    client = signed_in(Role.BILLING)
    assert "documents" not in tab_names(client.get(url("records:chart", patient)).content.decode())
    page = client.get(url(DOCUMENTS, patient))
    assert page.status_code == 403 and b"A photo" not in page.content
    assert denied()[-1].actor_role == "billing"


def test_titles_are_shown_escaped(signed_in, chart, patient, in_a):
    files.do_add_file(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, kind="document", upload=pdf_upload(), title=HOSTILE[:200])
    assert_escaped(signed_in(Role.CLINICIAN).get(url(DOCUMENTS, patient)).content.decode(), HOSTILE[:200])
