"""How a request's file parts are held while it is parsed (records/uploads.py): spooled to an
encrypted temporary file, never whole in memory and never in clear on disk; past the size
limit nothing is kept; past the number of files per request, none is (SEC1, SEC3)."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from confide.core.tenancy import tenant_context
from confide.records.models import IntakeSubmission
from tests.records.consultations import form_data
from tests.records.uploads import png_upload

CANARY = b"CANARY-PLAINTEXT-0123456789abcdef"  # 33 bytes, repeated through the upload


def _parsed(files: dict, **fields):
    """A POST request whose multipart body is built before measuring; `.FILES` parses it."""
    body = encode_multipart(BOUNDARY, {**fields, **files})
    return RequestFactory().generic("POST", "/upload", data=body, content_type=MULTIPART_CONTENT)


def test_sec3_an_upload_is_spooled_and_never_held_whole_in_memory():
    size = 8 * 1024 * 1024
    request = _parsed({"file": SimpleUploadedFile("scan.pdf", CANARY * (size // len(CANARY)), content_type="application/pdf")})
    tracemalloc.start()
    try:
        upload = request.FILES["file"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert upload.size == size // len(CANARY) * len(CANARY)
    assert peak < 1024 * 1024, f"parsing held {peak / 1024:.0f} KiB"  # a few 64 KiB chunks, not 8 MiB
    assert upload.read(len(CANARY) * 3) == CANARY * 3
    upload.seek(size - len(CANARY) * 2)
    assert upload.read() == (CANARY * (size // len(CANARY)))[-(len(CANARY) * 2) + (size % len(CANARY)) :][: len(CANARY) * 2]


def test_sec1_the_spooled_upload_is_ciphertext_on_disk_under_a_key_that_dies_with_it():
    request = _parsed({"file": SimpleUploadedFile("scan.pdf", CANARY * 10_000, content_type="application/pdf")})
    upload = request.FILES["file"]
    spool = upload.file
    on_disk = os.pread(spool.disk_file.fileno(), 1 << 20, 0)
    assert len(on_disk) >= len(CANARY) * 10_000  # everything went to the file ...
    assert CANARY not in on_disk and CANARY[:16] not in on_disk  # ... as ciphertext
    assert not hasattr(upload, "temporary_file_path")  # nobody can be handed a path to it
    with pytest.raises(OSError):
        spool.fileno()  # nor write around the encryption (Pillow would use a file descriptor)
    upload.close()
    assert spool.disk_file.closed  # the temporary file was never linked into a directory; closed, it is gone


def test_past_the_size_limit_nothing_is_kept_and_the_size_is_known(settings):
    settings.CONFIDE_UPLOAD_MAX_BYTES = 10
    request = _parsed({"big": SimpleUploadedFile("photo.png", b"x" * 15, content_type="image/png"),
                       "small": SimpleUploadedFile("photo.png", b"0123456789", content_type="image/png")})  # fmt: skip
    big, small = request.FILES["big"], request.FILES["small"]
    assert big.refusal == "The file is larger than the 10 bytes limit." and big.size == 15 and big.read() == b""
    assert small.refusal is None and small.read() == b"0123456789"


def test_sec3_files_past_the_cap_per_request_are_not_kept_and_say_why(settings):
    settings.CONFIDE_UPLOAD_MAX_FILES = 2
    request = _parsed({f"f{i}": SimpleUploadedFile("photo.png", b"abc", content_type="image/png") for i in range(4)})
    refusals = [request.FILES[f"f{i}"].refusal for i in range(4)]
    assert refusals == [None, None, "At most 2 files can be sent at once.", "At most 2 files can be sent at once."]
    assert request.FILES["f3"].read() == b""


def test_sec3_a_consultation_with_more_files_than_the_cap_is_refused_with_a_clear_message(world, settings):
    settings.CONFIDE_UPLOAD_MAX_FILES = 2
    url = reverse("intake:consult", kwargs={"practice_slug": world.a.practice.slug})
    extra = {f"extra{i}": png_upload() for i in range(2)}
    response = Client().post(url, {**form_data(world.a.practice), "q_photo": png_upload(), **extra})
    assert response.status_code == 400
    assert "At most 2 files can be sent at once." in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert IntakeSubmission.objects.count() == 0

