"""Encrypted files: Tink streaming AEAD under a per-file key wrapped by the subject's key.

A stored object is

    b"CFV1" | u32 header length | header | streaming ciphertext

    header := u32 subject key version
              | u16 length | wrapped file keyset   (serialize_encrypted by the subject's AEAD)
              | u16 length | meta (canonical JSON: category, content type, plaintext size, ...)

Each file gets a fresh streaming keyset (AES256_GCM_HKDF_1MB). Associated data, with
binding = practice id | subject id | storage name:

* the wrapped keyset: "confide-file-key|" binding | sha256(meta)
* the body:           "confide-file-body|" binding | sha256(meta)

The digest covers the meta but not the key-wrapping fields, so rotating a subject's key only
re-wraps the header (`rewrap_file_header`) and never touches the body. The wrapping fields are
authenticated anyway: the wrapped keyset by the subject AEAD, and a wrong key version or a
keyset swapped in from another file simply fails to open. So the whole header is verified when
the file is opened, and the body segment by segment as it is read; shredding the subject
(keys.shred_subject) makes every file of theirs unreadable, and a file copied to another
subject's or name's path does not open.

Names are `<practice_id>/<subject_id>/<kind>/<uuid>`: never the user's filename, which is PHI.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import struct
import sys
import uuid
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import tink
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from PIL import Image, ImageOps
from tink import streaming_aead

from confide.vault import allowance, keys
from confide.vault.errors import DecryptionFailed, PHIAccessDenied, VaultError
from confide.vault.spool import EncryptedSpool

logger = logging.getLogger(__name__)

MAGIC = b"CFV1"
FORMAT = 1
TEMPLATE_NAME = "AES256_GCM_HKDF_1MB"
STREAM_TEMPLATE = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB
MAX_HEADER = 16 * 1024  # a real header is ~300 bytes; refuse to buffer anything bigger
CHUNK = 64 * 1024
_KIND = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_MIME = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
ALLOWED_TYPES = (JPEG, PNG, PDF)
_LABELS = {JPEG: "a JPEG image", PNG: "a PNG image", PDF: "a PDF document"}


class FileRejected(ValueError):
    """An upload refused by validation. The message is fit to show the person uploading."""


# --- upload validation -----------------------------------------------------------------------


@dataclass(frozen=True)
class CleanUpload:
    """What passed validation: a seekable binary file, its real type and its size."""

    file: BinaryIO
    content_type: str
    size: int


def sniff(head: bytes) -> str | None:
    """The real type from magic bytes, or None."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def _size_of(fileobj) -> int | None:
    try:
        if fileobj.seekable():
            here = fileobj.tell()
            end = fileobj.seek(0, os.SEEK_END)
            fileobj.seek(here)
            return end - here
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    size = getattr(fileobj, "size", None)
    return size if isinstance(size, int) else None


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _names(types) -> str:
    names = [{JPEG: "JPEG", PNG: "PNG", PDF: "PDF"}[t] for t in types]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def validate_upload(
    fileobj, *, declared_content_type: str, max_bytes: int | None = None, max_pixels: int | None = None, accepted: tuple = ALLOWED_TYPES
) -> CleanUpload:
    """Check an upload and return what may be stored.

    Cheapest first: a refusal the upload handler already made (`fileobj.refusal`: too big, too
    many files), the declared type, the size, the magic bytes, and for an image the pixel count
    its header declares (`max_pixels`, CONFIDE_UPLOAD_MAX_PIXELS): Pillow's `Image.open` reads
    the header only, so a decompression bomb is refused before a pixel is decoded. Only then
    are images decoded and re-encoded with Pillow, which drops EXIF (GPS, camera serials),
    comments and every other metadata chunk, after applying the EXIF orientation so the picture
    still looks the same; the re-encoded bytes go to an encrypted spool, not to memory.
    PDFs are stored as sent (their contents are not sanitised). `accepted`: the types this upload
    may be (a subset of ALLOWED_TYPES; a consultation's photo is JPEG or PNG), which the
    refusals name. Raises FileRejected."""
    refusal = getattr(fileobj, "refusal", None)
    if refusal:
        raise FileRejected(refusal)
    max_bytes = settings.CONFIDE_UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    max_pixels = settings.CONFIDE_UPLOAD_MAX_PIXELS if max_pixels is None else max_pixels
    declared = (declared_content_type or "").split(";", 1)[0].strip().lower()
    accepted = tuple(t for t in ALLOWED_TYPES if t in accepted)
    if declared not in accepted:
        raise FileRejected(f"Only {_names(accepted)} files can be uploaded.")
    size = _size_of(fileobj)
    if size is None:
        raise TypeError("validate_upload needs a seekable file (Django's uploaded files are)")
    if size == 0:
        raise FileRejected("The file is empty.")
    if size > max_bytes:
        raise FileRejected(f"The file is larger than the {_megabytes(max_bytes)} limit.")
    start = fileobj.tell()
    head = fileobj.read(8)
    fileobj.seek(start)
    actual = sniff(head)
    if actual is None or actual not in accepted:
        raise FileRejected(f"The file is not a {_names(accepted).replace(' and ', ' or ')} file, whatever its name says.")
    if actual != declared:
        raise FileRejected(f"The file is {_LABELS[actual]}, but was sent as {_LABELS[declared]}.")
    if actual == PDF:
        return CleanUpload(fileobj, PDF, size)
    return _reencode(fileobj, actual, max_pixels)


def _pixel_limit_message(width: int, height: int, limit: int) -> str:
    return (
        f"The image is {width} × {height} pixels ({width * height / 1_000_000:.1f} megapixels); the limit is "
        f"{limit / 1_000_000:g} megapixels. Please send a smaller image (a resized photo or a screenshot will do)."
    )


def _reencode(fileobj, content_type: str, max_pixels: int) -> CleanUpload:
    fmt = "JPEG" if content_type == JPEG else "PNG"
    try:
        # Pillow warns between MAX_IMAGE_PIXELS and twice that and raises above; both refuse
        # here. (catch_warnings is process-wide; it only narrows, never hides, other warnings.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fileobj, formats=[fmt]) as opened:
                width, height = opened.size  # from the header: nothing is decoded yet
                if width * height > max_pixels:
                    raise FileRejected(_pixel_limit_message(width, height, max_pixels))
                opened.load()
                clean = _pixels_only(opened, fmt)
    except FileRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FileRejected("The image has too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError):
        # Pillow reports damaged data with any of these (UnidentifiedImageError is an OSError).
        raise FileRejected("The image could not be read; it may be damaged.") from None
    out = EncryptedSpool()
    try:
        if fmt == "JPEG":
            clean.save(out, format="JPEG", quality=90)
        else:
            clean.save(out, format="PNG", optimize=False)
    except BaseException:
        out.close()
        raise
    finally:
        clean.close()
    out.seal()
    return CleanUpload(out, content_type, out.size)


def _pixels_only(opened: Image.Image, fmt: str) -> Image.Image:
    """A fresh image holding only the pixels, upright: no info dict, no EXIF, no ICC, no
    comments. At most two copies of the pixels exist at once (`opened` is emptied as soon as
    the fresh one is filled), which is what CONFIDE_UPLOAD_MAX_PIXELS budgets for."""
    ImageOps.exif_transpose(opened, in_place=True)  # a new core image only when it must turn
    if fmt == "JPEG":
        keep = ("L", "RGB", "CMYK")
        target = opened.mode if opened.mode in keep else "RGB"
    else:
        keep = ("1", "L", "LA", "RGB", "RGBA")
        target = opened.mode if opened.mode in keep and "transparency" not in opened.info else "RGBA"
    pixels = opened if opened.mode == target else opened.convert(target)
    # Dropping a core image by assignment, not close(): ImageFile.close() would also close the
    # caller's file, which is not ours to close.
    if pixels is not opened:
        opened.im = None  # the converted copy replaces the decoded one
    fresh = Image.new(target, pixels.size)
    fresh.paste(pixels)
    pixels.im = None  # only the fresh copy is left
    return fresh


# --- header ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileHeader:
    """A stored file's header as read, NOT yet authenticated (opening the file does that)."""

    key_version: int
    wrapped_keyset: bytes
    meta_bytes: bytes
    length: int  # bytes before the streaming ciphertext

    @property
    def meta(self) -> dict:
        return json.loads(self.meta_bytes)

    @property
    def content_type(self) -> str:
        return self.meta["content_type"]

    @property
    def size(self) -> int:
        return self.meta["size"]

    @property
    def category(self) -> str:
        return self.meta["category"]


def _meta_bytes(*, category: str, content_type: str, size: int) -> bytes:
    meta = {"category": category, "content_type": content_type, "format": FORMAT, "size": size, "template": TEMPLATE_NAME}
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()


def _pack_header(key_version: int, wrapped: bytes, meta: bytes) -> bytes:
    body = struct.pack(">IH", key_version, len(wrapped)) + wrapped + struct.pack(">H", len(meta)) + meta
    return MAGIC + struct.pack(">I", len(body)) + body


def _read_exact(source, n: int) -> bytes:
    parts, remaining = [], n
    while remaining:
        data = source.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def _parse_header(source, name: str) -> FileHeader:
    """Read the header off `source`, leaving it positioned at the streaming ciphertext."""
    lead = _read_exact(source, 8)
    if len(lead) < 8 or lead[:4] != MAGIC:
        raise DecryptionFailed(f"file {name}: not a vault file")
    (body_len,) = struct.unpack(">I", lead[4:])
    if not 8 <= body_len <= MAX_HEADER:
        raise DecryptionFailed(f"file {name}: damaged header")
    body = _read_exact(source, body_len)
    try:
        if len(body) != body_len:
            raise ValueError
        version, wrapped_len = struct.unpack_from(">IH", body, 0)
        at = 6 + wrapped_len
        wrapped = body[6:at]
        (meta_len,) = struct.unpack_from(">H", body, at)
        meta = body[at + 2 : at + 2 + meta_len]
        if at + 2 + meta_len != body_len or len(wrapped) != wrapped_len:
            raise ValueError
        parsed = json.loads(meta)
        if parsed.get("format") != FORMAT or not isinstance(parsed.get("size"), int):
            raise ValueError
    except (ValueError, struct.error):
        raise DecryptionFailed(f"file {name}: damaged header") from None
    return FileHeader(version, bytes(wrapped), bytes(meta), 8 + body_len)


def _binding(practice_id, subject_id, name: str) -> bytes:
    return f"{practice_id}|{subject_id}|{name}|".encode()


def _key_ad(practice_id, subject_id, name: str, meta: bytes) -> bytes:
    return b"confide-file-key|" + _binding(practice_id, subject_id, name) + hashlib.sha256(meta).digest()


def _body_ad(practice_id, subject_id, name: str, meta: bytes) -> bytes:
    return b"confide-file-body|" + _binding(practice_id, subject_id, name) + hashlib.sha256(meta).digest()


def _subject_aead(practice_id, subject_id, version, name: str):
    try:
        return keys.subject_aead(practice_id, subject_id, version)
    except keys.SubjectErased:
        raise keys.SubjectErased(
            f"file {name}: subject {subject_id} was erased; the file can no longer be opened by anyone"
        ) from None


def _unwrap(header: FileHeader, practice_id, subject_id, name: str) -> tink.KeysetHandle:
    _, subject = _subject_aead(practice_id, subject_id, header.key_version, name)
    try:
        return tink.proto_keyset_format.parse_encrypted(
            header.wrapped_keyset, subject, _key_ad(practice_id, subject_id, name, header.meta_bytes)
        )
    except tink.TinkError:
        logger.error("file key did not unwrap", extra={"object_id": str(subject_id)})
        raise DecryptionFailed(f"file {name}: key did not unwrap (tampered, or moved from another path)") from None


# --- storage plumbing --------------------------------------------------------------------------


def _s3_key(storage: Storage, name: str) -> str | None:
    """The object key if `storage` is django-storages' S3Storage, else None."""
    # Looked up, not imported: an S3Storage instance implies its module is loaded, and importing
    # boto3 only to answer "no" would cost a filesystem deployment ~9 MB.
    s3 = sys.modules.get("storages.backends.s3")
    if s3 is None or not isinstance(storage, s3.S3Storage):
        return None
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


class _RawReader(io.RawIOBase):
    """A readable raw stream over anything with read(n) (botocore's StreamingBody)."""

    def __init__(self, source):
        super().__init__()
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._source.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def _open_stored(storage: Storage, name: str):
    """Open a stored object for streaming reads.

    S3Storage.open() downloads the whole object into a SpooledTemporaryFile (held in memory
    unless AWS_S3_MAX_MEMORY_SIZE is set), so for S3 the object body is streamed directly."""
    key = _s3_key(storage, name)
    if key is None:
        return storage.open(name, "rb")
    from botocore.exceptions import ClientError

    try:
        body = storage.bucket.Object(key).get()["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(f"file {name} does not exist") from None
        raise
    return _RawReader(body)


class _Sink(io.RawIOBase):
    """Where Tink writes ciphertext: appended to the reader's pending buffer."""

    def __init__(self, pending: bytearray):
        super().__init__()
        self._pending = pending

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._pending.extend(b)
        return len(b)


class _EncryptingReader(io.RawIOBase):
    """Pull-based encryption: read() yields the header, then ciphertext made on demand from
    `source`, a chunk at a time. Memory stays at about one segment plus one read request."""

    def __init__(self, header: bytes, primitive, ad: bytes, source, expected_size: int):
        super().__init__()
        self._pending = bytearray(header)
        self._encrypting = primitive.new_encrypting_stream(_Sink(self._pending), ad)
        self._source = source
        self._expected = expected_size
        self._seen = 0
        self._finished = False

    def readable(self) -> bool:
        return True

    def _pump(self) -> None:
        chunk = self._source.read(CHUNK)
        if chunk:
            self._seen += len(chunk)
            if self._seen > self._expected:
                raise VaultError("the file grew while it was being stored")
            self._encrypting.write(chunk)
            return
        self._encrypting.close()  # writes the final segment
        self._finished = True
        if self._seen != self._expected:
            raise VaultError("the file shrank while it was being stored")

    def readinto(self, b) -> int:
        want = len(b)
        while len(self._pending) < want and not self._finished:
            self._pump()
        n = min(want, len(self._pending))
        b[:n] = self._pending[:n]
        del self._pending[:n]
        return n


class _ConcatReader(io.RawIOBase):
    """`head` bytes, then everything from `rest`: a new header over an existing body."""

    def __init__(self, head: bytes, rest):
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        n = len(data)
        b[:n] = data
        return n


class DecryptedFile(io.RawIOBase):
    """A stored file's plaintext, decrypted as it is read (constant memory).

    Every byte returned has been authenticated. Tampering or truncation raises DecryptionFailed
    when the damaged segment is reached, at the latest when reading reaches the end: a consumer
    that must not act on partial content (e.g. a parser) should read to EOF first; a download
    view should abort the response. `content_type` and `size` come from the verified header."""

    def __init__(self, stream, name: str, header: FileHeader):
        super().__init__()
        self._stream = stream
        self.name = name
        self.content_type = header.content_type
        self.size = header.size
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self._stream.read(len(b))
        except tink.TinkError:
            logger.error("file body did not decrypt", extra={"path_name": self.name})
            raise DecryptionFailed(f"file {self.name}: content did not decrypt (tampered or truncated)") from None
        n = len(data)
        self._read += n
        if (n == 0 and len(b) and self._read != self.size) or self._read > self.size:
            raise DecryptionFailed(f"file {self.name}: content has the wrong length (truncated?)")
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def _plain_ids(practice_id, subject_id) -> tuple[uuid.UUID, uuid.UUID]:
    return uuid.UUID(str(practice_id)), uuid.UUID(str(subject_id))


def _check_category(category: str) -> None:
    if not category or "." not in category:
        raise ValueError("a stored file declares a data category such as 'health.documents'")


def _check_path(name: str, practice_id, subject_id) -> None:
    if not name.startswith(f"{practice_id}/{subject_id}/"):
        raise DecryptionFailed(f"file {name} is not stored under subject {subject_id} of practice {practice_id}")


# --- the storage ---------------------------------------------------------------------------------


def default_storage() -> FileSystemStorage:
    return FileSystemStorage(
        location=settings.DATA_DIR / "files", file_permissions_mode=0o600, directory_permissions_mode=0o700
    )


class EncryptedStorage:
    """Encrypting front for any Django Storage (default: DATA_DIR/files on the filesystem)."""

    def __init__(self, storage: Storage | None = None):
        self.storage = storage if storage is not None else default_storage()

    def save_encrypted(
        self, name_prefix: str, fileobj, *, practice_id, subject_id, content_type: str, category: str
    ) -> str:
        """Encrypt `fileobj` (read in chunks from its current position; it must be seekable or
        have a `size`) and store it; returns the stored name. `name_prefix` is a kind label such
        as "attachment" (never a filename)."""
        _check_category(category)
        allowance.require(category, subject_id)
        if not _KIND.match(name_prefix or ""):
            raise ValueError("name_prefix is a short lowercase kind such as 'attachment', never a filename")
        if not _MIME.match(content_type or ""):
            raise ValueError("content_type must be a plain MIME type such as 'application/pdf'")
        practice_id, subject_id = _plain_ids(practice_id, subject_id)
        size = _size_of(fileobj)
        if size is None:
            raise TypeError("save_encrypted needs a seekable or sized file")
        name = f"{practice_id}/{subject_id}/{name_prefix}/{uuid.uuid4().hex}"
        version, subject = _subject_aead(practice_id, subject_id, None, name)
        meta = _meta_bytes(category=category, content_type=content_type, size=size)
        handle = tink.new_keyset_handle(STREAM_TEMPLATE)
        wrapped = tink.proto_keyset_format.serialize_encrypted(
            handle, subject, _key_ad(practice_id, subject_id, name, meta)
        )
        reader = _EncryptingReader(
            _pack_header(version, wrapped, meta),
            handle.primitive(streaming_aead.StreamingAead),
            _body_ad(practice_id, subject_id, name, meta),
            fileobj,
            size,
        )
        try:
            saved = self.storage.save(name, File(reader, name=name))
        except BaseException:
            self._discard(name)
            raise
        finally:
            reader.close()
        if saved != name:  # the binding is to `name`; a renamed object would never open
            self._discard(saved)
            raise VaultError(f"storage renamed {name} to {saved}; refusing")
        return name

    def open_decrypted(self, name: str, *, practice_id, subject_id, category: str) -> DecryptedFile:
        """A readable binary file streaming the plaintext; close it (or use `with`)."""
        _check_category(category)
        allowance.require(category, subject_id)
        practice_id, subject_id = _plain_ids(practice_id, subject_id)
        _check_path(name, practice_id, subject_id)
        source = _open_stored(self.storage, name)
        try:
            header = _parse_header(source, name)
            handle = _unwrap(header, practice_id, subject_id, name)  # authenticates the header
            if header.category != category:
                raise PHIAccessDenied(f"file {name} holds {header.category}, not {category}")
            stream = handle.primitive(streaming_aead.StreamingAead).new_decrypting_stream(
                source, _body_ad(practice_id, subject_id, name, header.meta_bytes)
            )
        except BaseException:
            source.close()
            raise
        return DecryptedFile(stream, name, header)

    def delete(self, name: str) -> None:
        self.storage.delete(name)

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def _discard(self, name: str) -> None:
        _discard(self.storage, name)


def _discard(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # noqa: BLE001 - best effort; the original error matters more
        logger.warning("could not remove a partly written file", extra={"path_name": name})


# --- key rotation --------------------------------------------------------------------------------


def _raw(storage) -> Storage:
    return storage.storage if isinstance(storage, EncryptedStorage) else storage


def read_header(storage, name: str) -> FileHeader:
    """The stored header, unauthenticated: for rotation to see a file's key version."""
    source = _open_stored(_raw(storage), name)
    try:
        return _parse_header(source, name)
    finally:
        source.close()


def rewrap_file_header(storage, name: str, practice_id, subject_id, new_version: int) -> bool:
    """Re-wrap a file's key under the subject's key `new_version`; the body is copied as is.

    The new object (new header + the old body, streamed) is written beside the old one, checked,
    then replaces it: atomically on a filesystem (os.replace) and on S3 (a server-side copy is
    one PUT); on other storages by delete-then-save. No allowance is needed: no content is
    decrypted. Returns False if the file is already at `new_version`. Needs the tenant context."""
    raw = _raw(storage)
    practice_id, subject_id = _plain_ids(practice_id, subject_id)
    _check_path(name, practice_id, subject_id)
    source = _open_stored(raw, name)
    try:
        header = _parse_header(source, name)
        if header.key_version == new_version:
            return False
        handle = _unwrap(header, practice_id, subject_id, name)
        _, subject = _subject_aead(practice_id, subject_id, new_version, name)
        wrapped = tink.proto_keyset_format.serialize_encrypted(
            handle, subject, _key_ad(practice_id, subject_id, name, header.meta_bytes)
        )
        new_header = _pack_header(new_version, wrapped, header.meta_bytes)
        temp = saved = f"{name}.rewrap-{uuid.uuid4().hex[:12]}"
        try:
            saved = raw.save(temp, File(_ConcatReader(new_header, source), name=temp))
        except BaseException:
            _discard(raw, temp)
            raise
    finally:
        source.close()
    try:
        if saved != temp:
            raise VaultError(f"storage renamed {temp} to {saved}; refusing")
        expected = raw.size(name) - header.length + len(new_header)
        if raw.size(temp) != expected:
            raise VaultError(f"file {name}: re-wrapped copy has the wrong size; original kept")
        _replace(raw, temp, name)
    except BaseException:
        _discard(raw, saved)
        raise
    return True


def _replace(storage: Storage, temp: str, name: str) -> None:
    key = _s3_key(storage, name)
    if key is not None:
        storage.bucket.Object(key).copy({"Bucket": storage.bucket.name, "Key": _s3_key(storage, temp)})
        storage.delete(temp)
        return
    try:
        os.replace(storage.path(temp), storage.path(name))
        return
    except NotImplementedError:  # not a local filesystem
        pass
    # Generic storage: no rename. The re-wrapped copy under `temp` stays a valid file for `name`
    # (its binding is to `name`) until the end, so a crash in between loses nothing.
    source = storage.open(temp, "rb")
    try:
        if storage.get_available_name(name) == name:  # overwrites in place
            saved = storage.save(name, File(source, name=name))
        else:
            storage.delete(name)
            saved = storage.save(name, File(source, name=name))
    finally:
        source.close()
    if saved != name:
        raise VaultError(f"storage renamed {name} to {saved} while replacing it; {temp} holds the file")
    storage.delete(temp)
