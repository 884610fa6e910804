"""How uploaded bytes are held while a request is parsed (settings.FILE_UPLOAD_HANDLERS).

Django's default handlers keep an upload in memory up to 2.5 MB and spill anything bigger to a
temporary file in clear: a patient's photo would sit on disk unencrypted until the request ends,
and an earlier version of this handler that kept everything in memory let one request hold
CONFIDE_UPLOAD_MAX_BYTES per file part. This handler writes every file part, as it arrives, to
an `EncryptedSpool` (confide/vault/spool.py: ciphertext on disk under a key that exists only in
memory for this request, no name in any directory): memory stays at a block or two per file.

Two limits are enforced while parsing, before a view runs, and reported by the form or service
that looks at the file, with a message (`refusal`) rather than an error page:

* past CONFIDE_UPLOAD_MAX_BYTES a file part is counted but its bytes are dropped;
* past CONFIDE_UPLOAD_MAX_FILES file parts in one request, further parts are not kept at all
  (Django's own DATA_UPLOAD_MAX_NUMBER_FILES, far higher, still ends a request with hundreds).
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from confide.core.errors import InvalidInput
from confide.vault.spool import EncryptedSpool


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def too_many_files_message(limit: int | None = None) -> str:
    limit = settings.CONFIDE_UPLOAD_MAX_FILES if limit is None else limit
    return f"At most {limit} file{'s' if limit != 1 else ''} can be sent at once."


class SpooledUpload(UploadedFile):
    """An upload whose bytes are in an encrypted spool. No `temporary_file_path()`: there is
    no path, and nothing may be handed one."""

    refusal = None

    def __init__(self, spool: EncryptedSpool, *, name, content_type, charset=None, content_type_extra=None, field_name=None):
        super().__init__(file=spool.seal(), name=name, content_type=content_type, size=spool.size, charset=charset,
                         content_type_extra=content_type_extra)  # fmt: skip
        self.field_name = field_name

    def open(self, mode=None):
        self.file.seek(0)
        return self


class RefusedUpload(UploadedFile):
    """A file part that was not kept, and why (`refusal`, fit to show). `size` is what was sent."""

    def __init__(self, *, refusal: str, name, content_type, size, charset=None):
        super().__init__(file=io.BytesIO(), name=name, content_type=content_type, size=size, charset=charset)
        self.refusal = refusal

    @property
    def oversized(self) -> bool:
        return self.refusal is not None and self.refusal.startswith("The file is larger")


def check_file_count(files) -> None:
    """InvalidInput when a request carried more file parts than CONFIDE_UPLOAD_MAX_FILES (the
    handler has already dropped the ones past it): the whole request is refused, not a guess at
    which files were meant."""
    message = too_many_files_message()
    if any(getattr(upload, "refusal", None) == message for upload in files.values()):
        raise InvalidInput(message)


class EncryptedSpoolUploadHandler(FileUploadHandler):
    """One instance per request (Django makes them per request), so `files_seen` counts that
    request's file parts."""

    def __init__(self, request=None):
        super().__init__(request)
        self.files_seen = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.files_seen += 1
        self.total = 0
        self.limit = settings.CONFIDE_UPLOAD_MAX_BYTES
        self.over_count = self.files_seen > settings.CONFIDE_UPLOAD_MAX_FILES
        self.spool = None if self.over_count else EncryptedSpool()

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if self.spool is not None:
            if self.total <= self.limit:
                self.spool.write(raw_data)
            else:  # over the limit: let go of what was kept, count the rest
                self.spool.close()
                self.spool = None
        return None  # consumed: no later handler sees the data

    def file_complete(self, file_size):
        common = {"name": self.file_name, "content_type": self.content_type, "charset": self.charset}
        if self.over_count:
            return RefusedUpload(refusal=too_many_files_message(), size=self.total, **common)
        if self.total > self.limit:
            return RefusedUpload(refusal=f"The file is larger than the {_megabytes(self.limit)} limit.", size=self.total, **common)
        return SpooledUpload(self.spool, content_type_extra=self.content_type_extra, field_name=self.field_name, **common)

    def upload_interrupted(self):
        if getattr(self, "spool", None) is not None:
            self.spool.close()
