"""Uploading a document or a photo: type by magic bytes, the size limit, re-encoded images;
a refused upload stores nothing, anywhere."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import Document, Photo
from tests.records.conftest import entries, url
from tests.records.test_service_files import stored_files
from tests.records.uploads import pdf_upload, png_bytes, png_upload
from tests.security.routes_helpers import assert_no_writes

UPLOAD = "records:file-upload"


def _rows(patient, model):
    with tenant_context(practice_id=patient.practice_id):
        return list(model.objects.filter(patient_id=patient.id))


def test_a_pdf_is_stored_encrypted_and_its_own_name_is_never_kept(signed_in, patient):
    before = stored_files()
    response = signed_in(Role.CLINICIAN).post(url(UPLOAD, patient), {"kind": "document", "title": "Referral", "file": pdf_upload("Marisol-referral.pdf")})
    assert response.status_code == 302 and response["Location"] == url("records:chart-documents", patient)
    [row] = _rows(patient, Document)
    [added] = stored_files() - before
    assert added == row.stored_name and "Marisol" not in added
    assert entries(AuditEvent.FILE_ADDED)[-1].detail == {"kind": "document", "size": row.size, "content_type": "application/pdf"}


def test_a_photo_is_accepted_as_png(signed_in, patient):
    assert signed_in(Role.OWNER).post(url(UPLOAD, patient), {"kind": "photo", "title": "Mole", "file": png_upload()}).status_code == 302
    assert len(_rows(patient, Photo)) == 1


@override_settings(CONFIDE_UPLOAD_MAX_BYTES=1024 * 1024)
def test_an_upload_over_the_limit_is_refused_with_no_stored_file(signed_in, patient):
    client, before = signed_in(Role.CLINICIAN), stored_files()
    big = SimpleUploadedFile("scan.png", png_bytes() + b"\0" * (2 * 1024 * 1024), content_type="image/png")
    with assert_no_writes():
        response = client.post(url(UPLOAD, patient), {"kind": "photo", "title": "Scan", "file": big})
    assert response.status_code == 400 and b"The file is larger than the 1 MB limit." in response.content
    assert stored_files() == before and not _rows(patient, Photo)


def test_a_non_image_sent_as_an_image_is_refused_with_no_stored_file(signed_in, patient):
    client, before = signed_in(Role.CLINICIAN), stored_files()
    fake = SimpleUploadedFile("rash.png", b"<svg onload=alert(1)>", content_type="image/png")
    with assert_no_writes():
        response = client.post(url(UPLOAD, patient), {"kind": "photo", "title": "Rash", "file": fake})
    assert response.status_code == 400 and b"not a JPEG, PNG or PDF file, whatever its name says" in response.content
    assert stored_files() == before


def test_a_missing_title_file_or_kind_is_refused_per_field(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(UPLOAD, patient), {"kind": "recording", "title": ""})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Choose document or photo." in body and "Give the file a title." in body and "Choose a file to upload." in body


def test_a_pdf_cannot_be_a_photo(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(UPLOAD, patient), {"kind": "photo", "title": "Letter", "file": pdf_upload()})
    assert response.status_code == 400 and b"Photos are JPEG or PNG" in response.content


def test_front_desk_and_billing_cannot_upload(signed_in, patient):
    for role in (Role.FRONT_DESK, Role.BILLING):
        client = signed_in(role)
        with assert_no_writes():
            assert client.post(url(UPLOAD, patient), {"kind": "document", "title": "x", "file": pdf_upload()}).status_code == 403


def test_an_uploaded_image_never_touches_the_disk_in_clear(signed_in, patient, tmp_path, settings):
    # Django's own handlers spill uploads over 2.5 MB to a temporary file; ours never do.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    image = io.BytesIO()
    from PIL import Image

    Image.effect_noise((1100, 1100), 90).convert("RGB").save(image, format="PNG")
    assert image.tell() > 2.5 * 1024 * 1024
    upload = SimpleUploadedFile("big.png", image.getvalue(), content_type="image/png")
    assert signed_in(Role.CLINICIAN).post(url(UPLOAD, patient), {"kind": "photo", "title": "Big", "file": upload}).status_code == 302
    assert list(tmp_path.iterdir()) == []


def test_sec3_an_upload_with_more_files_than_the_cap_is_refused_with_a_clear_message(signed_in, patient, settings):
    settings.CONFIDE_UPLOAD_MAX_FILES = 1
    client, before = signed_in(Role.CLINICIAN), stored_files()
    second = SimpleUploadedFile("b.png", png_bytes(), content_type="image/png")
    with assert_no_writes():
        response = client.post(url(UPLOAD, patient), {"kind": "photo", "title": "Mole", "file": png_upload(), "other": second})
    assert response.status_code == 400 and b"At most 1 file can be sent at once." in response.content
    assert stored_files() == before
