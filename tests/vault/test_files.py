"""Encrypted files (vault/files.py) over FileSystemStorage in a temporary directory."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from confide.records.services import do_shred_patient
from confide.vault import files, keys
from confide.vault.allowance import allow
from confide.vault.errors import DecryptionFailed, PHIAccessDenied
from confide.vault.files import EncryptedStorage, FileRejected, rewrap_file_header, validate_upload
from confide.vault.models import SubjectKey

CATEGORY = "health.documents"
CANARY = b"canary-diagnosis-xyzzy"
MiB = 1024 * 1024


@pytest.fixture
def storage(tmp_path):
    return EncryptedStorage(FileSystemStorage(location=tmp_path / "files"))


@pytest.fixture
def patient(make_patient):
    return make_patient()


def _save(storage, patient, data: bytes, content_type="application/pdf", category=CATEGORY) -> str:
    with allow({category}):
        return storage.save_encrypted(
            "attachment", io.BytesIO(data), practice_id=patient.practice_id, subject_id=patient.id,
            content_type=content_type, category=category,
        )


def _open(storage, patient, name, category=CATEGORY) -> bytes:
    with allow({category}), storage.open_decrypted(
        name, practice_id=patient.practice_id, subject_id=patient.id, category=category
    ) as handle:
        return handle.read()


def _path(storage, name):
    return storage.storage.path(name)


def _bytes(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _pdf(body: bytes = b"") -> bytes:
    return b"%PDF-1.7\n" + body + CANARY + b"\n%%EOF\n"


def test_round_trip_and_nothing_readable_at_rest(storage, patient):
    data = _pdf(os.urandom(3 * MiB))  # several 1 MB segments
    name = _save(storage, patient, data)
    assert name.startswith(f"{patient.practice_id}/{patient.id}/attachment/")
    assert _open(storage, patient, name) == data
    with allow({CATEGORY}), storage.open_decrypted(
        name, practice_id=patient.practice_id, subject_id=patient.id, category=CATEGORY
    ) as handle:
        assert (handle.content_type, handle.size) == ("application/pdf", len(data))
    stored = _bytes(_path(storage, name))
    assert stored.startswith(b"CFV1") and CANARY not in stored and b"%PDF" not in stored
    storage.delete(name)
    assert not storage.exists(name)


def test_empty_file_round_trips(storage, patient):
    assert _open(storage, patient, _save(storage, patient, b"")) == b""


def test_outside_the_allowance_is_refused(storage, patient):
    with pytest.raises(PHIAccessDenied):
        storage.save_encrypted("attachment", io.BytesIO(b"x"), practice_id=patient.practice_id,
                               subject_id=patient.id, content_type="application/pdf", category=CATEGORY)
    name = _save(storage, patient, _pdf())
    with pytest.raises(PHIAccessDenied):
        storage.open_decrypted(name, practice_id=patient.practice_id, subject_id=patient.id, category=CATEGORY)
    with allow({"contact.email"}), pytest.raises(PHIAccessDenied):
        storage.open_decrypted(name, practice_id=patient.practice_id, subject_id=patient.id, category=CATEGORY)
    # The category is bound in the header: claiming a category one happens to hold fails.
    with allow({"contact.email"}), pytest.raises(PHIAccessDenied, match="holds health.documents"):
        storage.open_decrypted(name, practice_id=patient.practice_id, subject_id=patient.id, category="contact.email")


def test_shredded_subject_files_are_erased_and_others_untouched(storage, make_patient, world):
    gone, kept = make_patient(), make_patient()
    gone_name, kept_name = _save(storage, gone, _pdf(b"gone")), _save(storage, kept, _pdf(b"kept"))
    do_shred_patient(practice_id=world.a.practice.id, patient_id=gone.id)
    with pytest.raises(keys.SubjectErased, match="was erased; the file can no longer be opened"):
        _open(storage, gone, gone_name)
    assert _open(storage, kept, kept_name) == _pdf(b"kept")


def _flip(path, offset):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.mark.parametrize("where", ["first segment", "last segment", "header meta", "wrapped key"])
def test_one_flipped_byte_fails_and_never_yields_wrong_plaintext(storage, patient, where):
    data = _pdf(os.urandom(2 * MiB + 1000))
    name = _save(storage, patient, data)
    path = _path(storage, name)
    header = files.read_header(storage, name)
    offset = {
        "first segment": header.length + 5000,
        "last segment": os.path.getsize(path) - 10,
        "header meta": header.length - 5,  # inside the JSON meta (the header's last field)
        "wrapped key": 8 + 6 + 20,
    }[where]
    _flip(path, offset)
    received = bytearray()
    with pytest.raises(DecryptionFailed):
        with allow({CATEGORY}), storage.open_decrypted(
            name, practice_id=patient.practice_id, subject_id=patient.id, category=CATEGORY
        ) as handle:
            while chunk := handle.read(64 * 1024):
                received += chunk
    assert data.startswith(bytes(received))  # what came out before the failure was authentic


@pytest.mark.parametrize("keep", ["all but 100 bytes", "half", "header only"])
def test_truncated_file_fails_when_read_to_the_end(storage, patient, keep):
    data = _pdf(os.urandom(3 * MiB))
    name = _save(storage, patient, data)
    path = _path(storage, name)
    header_length = files.read_header(storage, name).length
    size = os.path.getsize(path)
    os.truncate(path, {"all but 100 bytes": size - 100, "half": size // 2, "header only": header_length}[keep])
    with pytest.raises(DecryptionFailed):
        _open(storage, patient, name)


def _copy(storage, name, new_name):
    target = storage.storage.path(new_name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(_path(storage, name), "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())


def test_a_file_copied_to_another_subject_or_name_does_not_open(storage, make_patient):
    owner, other = make_patient(), make_patient()
    name = _save(storage, owner, _pdf(b"owner"))
    stolen = name.replace(str(owner.id), str(other.id))
    _copy(storage, name, stolen)
    with pytest.raises(DecryptionFailed, match="did not unwrap"):
        _open(storage, other, stolen)
    renamed = name.rsplit("/", 1)[0] + "/" + "0" * 32
    _copy(storage, name, renamed)
    with pytest.raises(DecryptionFailed, match="did not unwrap"):
        _open(storage, owner, renamed)
    # Asking for a file under another subject's path is refused before any key is touched.
    with pytest.raises(DecryptionFailed, match="not stored under subject"):
        _open(storage, other, name)


def test_a_header_swapped_onto_another_files_body_fails(storage, patient):
    first, second = _save(storage, patient, _pdf(b"first")), _save(storage, patient, _pdf(b"second"))
    first_header = files.read_header(storage, first).length
    second_header = files.read_header(storage, second).length
    with open(_path(storage, first), "rb") as a, open(_path(storage, second), "rb") as b:
        spliced = a.read()[:first_header] + b.read()[second_header:]
    with open(_path(storage, first), "wb") as a:
        a.write(spliced)
    with pytest.raises(DecryptionFailed):
        _open(storage, patient, first)


def test_rewrap_moves_the_file_to_a_new_key_version(storage, patient, in_practice_a):
    data = _pdf(os.urandom(MiB + 77))
    name = _save(storage, patient, data)
    path = _path(storage, name)
    body_before = _bytes(path)[files.read_header(storage, name).length :]
    keys.new_subject_key(patient.practice_id, patient.id, 2)
    SubjectKey.objects.filter(subject_id=patient.id, version=1).update(state=SubjectKey.State.RETIRING)

    assert rewrap_file_header(storage, name, patient.practice_id, patient.id, 2) is True
    header = files.read_header(storage, name)
    assert header.key_version == 2
    assert _bytes(path)[header.length :] == body_before  # only the header changed
    assert sorted(os.listdir(os.path.dirname(path))) == [os.path.basename(path)]  # no temporaries left
    assert rewrap_file_header(storage, name, patient.practice_id, patient.id, 2) is False
    # Version 1 destroyed, as rotation does when it finishes: the file still opens.
    SubjectKey.objects.filter(subject_id=patient.id, version=1).update(
        wrapped_keyset=None, state=SubjectKey.State.DESTROYED
    )
    assert _open(storage, patient, name) == data


class _Generated(io.RawIOBase):
    """`size` bytes of varied content made on the fly; never held in memory at once."""

    def __init__(self, size: int, block: bytes):
        super().__init__()
        self.size, self._block, self._position = size, block, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), len(self._block), self.size - self._position)
        index = (self._position // len(self._block)).to_bytes(8, "big")
        b[:n] = (index + self._block[8:])[:n]
        self._position += n
        return n


def test_a_64_mib_file_streams_in_constant_memory(storage, patient):
    # Python-heap peak via tracemalloc (Tink's C++ buffers are not traced; they hold about
    # one 1 MB segment). bench/ measures the same path on 1 GiB files.
    size, limit = 64 * MiB, 16 * MiB
    block = os.urandom(64 * 1024)
    expected = hashlib.sha256()
    for chunk in iter(lambda source=_Generated(size, block): source.read(1024 * 1024), b""):
        expected.update(chunk)

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with allow({CATEGORY}):
            name = storage.save_encrypted("attachment", _Generated(size, block), practice_id=patient.practice_id,
                                          subject_id=patient.id, content_type="application/pdf", category=CATEGORY)
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        digest, total = hashlib.sha256(), 0
        with allow({CATEGORY}), storage.open_decrypted(
            name, practice_id=patient.practice_id, subject_id=patient.id, category=CATEGORY
        ) as handle:
            while chunk := handle.read(256 * 1024):
                digest.update(chunk)
                total += len(chunk)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"64 MiB file: peak traced memory write {write_peak / MiB:.2f} MiB, read {read_peak / MiB:.2f} MiB")
    assert total == size and digest.digest() == expected.digest()
    assert os.path.getsize(_path(storage, name)) > size
    assert write_peak < limit and read_peak < limit


# --- upload validation ---------------------------------------------------------------------------


def _jpeg_with_metadata() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010E] = "canary-diagnosis-xyzzy description"  # ImageDescription
    exif[0x0112] = 1  # Orientation
    gps = exif.get_ifd(0x8825)  # GPSInfo
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    gps[3], gps[4] = "E", (13.0, 24.0, 36.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"canary-diagnosis-xyzzy comment")
    return out.getvalue()


def _upload(data: bytes, content_type: str):
    return SimpleUploadedFile("Zebulon Canarywood scan.jpg", data, content_type=content_type)


def test_jpeg_metadata_is_stripped_before_storage(storage, patient):
    original = _jpeg_with_metadata()
    assert CANARY in original and Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test is real
    clean = validate_upload(_upload(original, "image/jpeg"), declared_content_type="image/jpeg", max_bytes=MiB)
    assert clean.content_type == "image/jpeg"
    with allow({"health.photos"}):
        name = storage.save_encrypted("photo", clean.file, practice_id=patient.practice_id, subject_id=patient.id,
                                      content_type=clean.content_type, category="health.photos")
    assert "Zebulon" not in name and ".jpg" not in name
    stored = _open(storage, patient, name, category="health.photos")
    assert CANARY not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        assert not image.getexif() and "comment" not in image.info and "exif" not in image.info


def test_png_text_chunks_are_stripped():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "canary-diagnosis-xyzzy")
    out = io.BytesIO()
    Image.new("P", (10, 10), 3).save(out, format="PNG", pnginfo=info, transparency=3)
    clean = validate_upload(io.BytesIO(out.getvalue()), declared_content_type="image/png", max_bytes=MiB)
    data = clean.file.read()
    assert CANARY in out.getvalue() and CANARY not in data and len(data) == clean.size
    assert Image.open(io.BytesIO(data)).mode == "RGBA"


def test_pdf_passes_as_sent():
    data = _pdf(b"body")
    clean = validate_upload(_upload(data, "application/pdf"), declared_content_type="application/pdf", max_bytes=MiB)
    assert (clean.content_type, clean.size, clean.file.read()) == ("application/pdf", len(data), data)


@pytest.mark.parametrize(
    ("data", "declared", "message"),
    [
        (_pdf(), "image/png", "The file is a PDF document, but was sent as a PNG image."),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/jpeg", "The file is a PNG image, but was sent as a JPEG image."),
        (b"\xff\xd8\xff\xe0" + b"\0" * 40, "application/pdf", "The file is a JPEG image, but was sent as a PDF document."),
        (b"GIF89a" + b"\0" * 40, "image/png", "The file is not a JPEG, PNG or PDF file, whatever its name says."),
        (_pdf(), "text/html", "Only JPEG, PNG and PDF files can be uploaded."),
        (b"", "application/pdf", "The file is empty."),
        (_pdf(b"x" * 2048), "application/pdf", "The file is larger than the 1024 bytes limit."),
        (b"\x89PNG\r\n\x1a\n" + b"\x13" * 200, "image/png", "The image could not be read; it may be damaged."),
        (b"\xff\xd8\xff\xe0" + b"\x13" * 200, "image/jpeg", "The image could not be read; it may be damaged."),
    ],
    ids=["pdf-as-png", "png-as-jpeg", "jpeg-as-pdf", "gif", "html", "empty", "oversized", "corrupt-png", "corrupt-jpeg"],
)
def test_uploads_are_refused_with_a_specific_message(data, declared, message):
    with pytest.raises(FileRejected) as refused:
        validate_upload(_upload(data, declared), declared_content_type=declared, max_bytes=1024)
    assert str(refused.value) == message


def test_truncated_jpeg_is_refused():
    data = _jpeg_with_metadata()
    with pytest.raises(FileRejected, match="could not be read"):
        validate_upload(io.BytesIO(data[: len(data) // 2]), declared_content_type="image/jpeg", max_bytes=MiB)


def test_upload_limit_defaults_to_the_setting(settings):
    settings.CONFIDE_UPLOAD_MAX_BYTES = 10
    with pytest.raises(FileRejected, match="larger than the 10 bytes limit"):
        validate_upload(io.BytesIO(_pdf()), declared_content_type="application/pdf")


@pytest.mark.parametrize("side", [60, 100], ids=["over the warning limit", "over twice the limit"])
def test_decompression_bombs_are_refused(monkeypatch, side):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 60x60 warns in Pillow, 100x100 raises
    out = io.BytesIO()
    Image.new("L", (side, side)).save(out, format="PNG")
    with pytest.raises(FileRejected, match="too many pixels"):
        validate_upload(io.BytesIO(out.getvalue()), declared_content_type="image/png", max_bytes=MiB)


def test_names_never_carry_a_filename(storage, patient):
    with allow({CATEGORY}), pytest.raises(ValueError, match="never a filename"):
        storage.save_encrypted("Zebulon scan.pdf", io.BytesIO(b"x"), practice_id=patient.practice_id,
                               subject_id=patient.id, content_type="application/pdf", category=CATEGORY)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_sec3_an_image_over_the_pixel_cap_is_refused_from_its_header_naming_both(monkeypatch, fmt):
    out = io.BytesIO()
    Image.new("RGB", (120, 100)).save(out, format=fmt)
    from PIL import ImageFile

    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append(image.size))
    with pytest.raises(FileRejected) as refused:
        validate_upload(io.BytesIO(out.getvalue()), declared_content_type=f"image/{fmt.lower()}", max_bytes=MiB, max_pixels=11_999)
    assert str(refused.value) == (
        "The image is 120 × 100 pixels (0.0 megapixels); the limit is 0.011999 megapixels. "
        "Please send a smaller image (a resized photo or a screenshot will do)."
    )
    assert decoded == []


def test_an_image_at_the_pixel_cap_passes_and_the_cap_defaults_to_the_setting(settings):
    out = io.BytesIO()
    Image.new("RGB", (120, 100)).save(out, format="PNG")
    assert validate_upload(io.BytesIO(out.getvalue()), declared_content_type="image/png", max_pixels=12_000).size > 0
    settings.CONFIDE_UPLOAD_MAX_PIXELS = 11_999
    with pytest.raises(FileRejected, match="the limit is 0.011999 megapixels"):
        validate_upload(io.BytesIO(out.getvalue()), declared_content_type="image/png")


def test_a_refusal_made_while_parsing_is_the_message():
    class Refused(io.BytesIO):
        refusal = "At most 10 files can be sent at once."

    with pytest.raises(FileRejected, match="At most 10 files can be sent at once."):
        validate_upload(Refused(_pdf()), declared_content_type="application/pdf")


def test_a_re_encoded_image_is_held_in_an_encrypted_spool_not_in_memory():
    from confide.vault.spool import EncryptedSpool

    out = io.BytesIO()
    Image.effect_noise((300, 300), 90).convert("RGB").save(out, format="PNG")
    clean = validate_upload(io.BytesIO(out.getvalue()), declared_content_type="image/png", max_bytes=MiB)
    assert isinstance(clean.file, EncryptedSpool) and clean.size == clean.file.size > 64 * 1024
    assert Image.open(clean.file).size == (300, 300)
