"""How uploaded bytes are held while a request is parsed (settings.FILE_UPLOAD_HANDLERS).

Django's default handlers spill any upload over 2.5 MB to a temporary file: a patient's photo
would sit on disk in clear until the request ends. This handler keeps uploads in memory, up to
CONFIDE_UPLOAD_MAX_BYTES; past that it goes on counting but keeps nothing, and hands the form
an `OversizedUpload` (no content, the real size) to refuse with a message. Nothing of an
upload is ever written anywhere but the encrypted storage (confide/vault/files.py).
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class OversizedUpload(UploadedFile):
    """An upload past the limit: its size, and no bytes."""

    oversized = True

    def __init__(self, *, name, content_type, size, charset=None):
        super().__init__(file=io.BytesIO(), name=name, content_type=content_type, size=size, charset=charset)


class BoundedMemoryUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.total = 0
        self.limit = settings.CONFIDE_UPLOAD_MAX_BYTES

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if self.total <= self.limit:
            self.buffer.write(raw_data)
        elif self.buffer.tell():
            self.buffer = io.BytesIO()  # over the limit: let go of what was kept
        return None  # consumed: no later handler sees the data

    def file_complete(self, file_size):
        if self.total > self.limit:
            return OversizedUpload(name=self.file_name, content_type=self.content_type, size=self.total, charset=self.charset)
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer, field_name=self.field_name, name=self.file_name, content_type=self.content_type,
            size=file_size, charset=self.charset, content_type_extra=self.content_type_extra,
        )  # fmt: skip
