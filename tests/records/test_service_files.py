"""confide/records/files.py: uploads validated (type by magic bytes, size limit, images
re-encoded), stored encrypted, opened only through the door; a refusal stores nothing."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.records import files
from confide.records.models import Document, Photo
from tests.records.conftest import denied
from tests.records.uploads import pdf_upload, png_bytes, png_upload

pytestmark = pytest.mark.usefixtures("in_a")


def stored_files() -> set[str]:
    """Every object in the encrypted storage directory (the default storage)."""
    root = settings.DATA_DIR / "files"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_a_50_mb_upload_is_refused_with_no_stored_file(chart, patient):
    before = stored_files()
    big = SimpleUploadedFile("scan.png", png_bytes() + b"\0" * (50 * 1024 * 1024), content_type="image/png")
    assert big.size > settings.CONFIDE_UPLOAD_MAX_BYTES
    with pytest.raises(InvalidInput, match="larger than the 25 MB limit"):
        files.do_add_file(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, kind="photo", upload=big, title="Scan")
    assert stored_files() == before
    assert not Photo.objects.exists()


def test_a_non_image_image_is_refused_with_no_stored_file(chart, patient):
    before = stored_files()
    for name, body, declared, message in [
        ("rash.png", b"<html><script>alert(1)</script></html>", "image/png", "not a JPEG, PNG or PDF file"),
        ("rash.jpg", png_bytes(), "image/jpeg", "is a PNG image, but was sent as a JPEG image"),
        ("rash.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "image/png", "could not be read"),
        ("empty.png", b"", "image/png", "empty"),
    ]:
        upload = SimpleUploadedFile(name, body, content_type=declared)
        with pytest.raises(InvalidInput, match=message):
            files.do_add_file(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, kind="photo", upload=upload, title="Rash")
    # A photo is an image: a PDF is refused as a photo before it is even read.
    with pytest.raises(InvalidInput, match="Photos are JPEG or PNG"):
        files.do_add_file(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, kind="photo", upload=pdf_upload(), title="Letter")
    assert stored_files() == before
    assert not Photo.objects.exists() and not Document.objects.exists()


def test_a_title_is_required_and_bounded_and_the_kind_must_be_known(chart, patient):
    actor = chart.actor(Role.CLINICIAN)
    for title in ("", "   ", "x" * (files.TITLE_LIMIT + 1)):
        with pytest.raises(InvalidInput, match="title"):
            files.do_add_file(actor=actor, patient_id=patient.id, kind="document", upload=pdf_upload(), title=title)
    with pytest.raises(InvalidInput, match="document or a photo"):
        files.do_add_file(actor=actor, patient_id=patient.id, kind="recording", upload=pdf_upload(), title="x")
    assert not Document.objects.exists()


def test_an_image_is_re_encoded_and_stored_encrypted_under_a_name_without_its_filename(chart, patient):
    before = stored_files()
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # the camera's make: metadata the re-encode must drop
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="JPEG", exif=exif.tobytes())
    assert b"CanaryCam" in out.getvalue()
    upload = SimpleUploadedFile("Zebulon Canarywood rash.jpg", out.getvalue(), content_type="image/jpeg")
    row = files.do_add_file(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, kind="photo", upload=upload, title="Rash, left arm")
    [added] = stored_files() - before
    assert added == row.stored_name and "Zebulon" not in added and "rash" not in added
    raw = (settings.DATA_DIR / "files" / added).read_bytes()
    assert b"CanaryCam" not in raw and b"JFIF" not in raw  # ciphertext: not even the re-encoded JPEG's markers
    with files.open_file(chart.actor(Role.CLINICIAN), kind="photo", file_id=row.pk, patient_id=patient.id) as (opened, stream):
        plain = stream.read()
        assert str(opened.title) == "Rash, left arm"
    assert plain.startswith(b"\xff\xd8\xff") and b"CanaryCam" not in plain and b"Exif" not in plain


def test_billing_cannot_open_a_photo_at_the_service_and_the_door_records_it(chart, patient):
    photo = chart.file("photo")
    before = len(denied())
    with pytest.raises(AccessRefused):
        with files.open_file(chart.actor(Role.BILLING), kind="photo", file_id=photo.pk):
            pass
    with pytest.raises(AccessRefused):
        files.open_file_for_download(chart.actor(Role.BILLING), patient_id=patient.id, kind="photo", file_id=photo.pk)
    refusals = denied()[before:]
    assert len(refusals) == 2 and all(e.actor_role == "billing" and e.categories == ["health.photos"] for e in refusals)


def test_front_desk_cannot_add_or_open_a_document(chart, patient):
    document = chart.file("document")
    with pytest.raises(Forbidden):
        files.do_add_file(actor=chart.actor(Role.FRONT_DESK), patient_id=patient.id, kind="document", upload=pdf_upload(), title="x")
    with pytest.raises(AccessRefused):
        files.list_files(chart.actor(Role.FRONT_DESK), patient.id, kind="document")
    with pytest.raises(AccessRefused):
        files.open_file_for_download(chart.actor(Role.FRONT_DESK), patient_id=patient.id, kind="document", file_id=document.pk)


def test_a_file_named_under_another_patient_is_not_found(chart, make_patient):
    document = chart.file("document")
    other = make_patient(given_name="Other", family_name="Patient")
    with pytest.raises(NotFound):
        files.open_file_for_download(chart.actor(Role.CLINICIAN), patient_id=other.id, kind="document", file_id=document.pk)
    with pytest.raises(NotFound):
        files.open_file_for_download(chart.actor(Role.CLINICIAN), patient_id=other.id, kind="photo", file_id=document.pk)


def test_a_download_is_recorded_before_a_byte_is_read_and_streams_the_plaintext(chart, patient):
    from confide.audit.models import AuditEntry

    document = chart.file("document")
    download = files.open_file_for_download(chart.actor(Role.CLINICIAN), patient_id=patient.id, kind="document", file_id=document.pk)
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).latest("id")
    assert opened.categories == ["health.documents"] and opened.subject_id == patient.id
    try:
        body = download.stream.read()
    finally:
        download.stream.close()
    assert body == pdf_upload().read()
    assert download.filename == f"document-{document.pk.hex[:12]}.pdf" and download.content_type == "application/pdf"
    assert download.size == len(body)


def test_a_png_round_trips(chart, patient):
    row = files.do_add_file(actor=chart.actor(Role.OWNER), patient_id=patient.id, kind="photo", upload=png_upload(), title="Mole")
    [listed] = files.list_files(chart.actor(Role.OWNER), patient.id, kind="photo")
    assert listed["id"] == row.pk and listed["title"] == "Mole" and listed["content_type"] == "image/png"
