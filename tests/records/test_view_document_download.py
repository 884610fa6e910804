"""Downloading a document: the decrypted bytes streamed, a generated name (never the title),
no caching, a strict policy of its own; recorded as an opening of documents."""

from __future__ import annotations

from uuid import uuid4

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.records.conftest import denied, url
from tests.records.uploads import pdf_upload

DOWNLOAD = "records:document-download"


def test_a_document_downloads_with_a_generated_name_and_no_store(signed_in, chart, patient):
    document = chart.file("document")
    response = signed_in(Role.CLINICIAN).get(url(DOWNLOAD, patient, document_id=document.pk))
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == pdf_upload().read()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="document-{document.pk.hex[:12]}.pdf"'
    assert "A document" not in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).latest("id")
    assert (opened.categories, opened.subject_id) == (["health.documents"], patient.id)


def test_front_desk_and_billing_cannot_download_a_document(signed_in, chart, patient):
    document = chart.file("document")
    for role in (Role.FRONT_DESK, Role.BILLING):
        response = signed_in(role).get(url(DOWNLOAD, patient, document_id=document.pk))
        assert response.status_code == 403 and not response.streaming
        assert denied()[-1].actor_role == role.value


def test_a_document_under_another_patient_or_a_photo_id_is_a_404(signed_in, chart, patient, make_patient):
    document, photo = chart.file("document"), chart.file("photo")
    other = make_patient(given_name="Other", family_name="Patient")
    client = signed_in(Role.CLINICIAN)
    assert client.get(url(DOWNLOAD, other, document_id=document.pk)).status_code == 404
    assert client.get(url(DOWNLOAD, patient, document_id=photo.pk)).status_code == 404
    assert client.get(url(DOWNLOAD, patient, document_id=uuid4())).status_code == 404
