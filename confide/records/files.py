"""Documents and photos of a chart: validated, re-encoded (images lose their EXIF), encrypted
under the patient's key in streaming AEAD, and read back only through the chart door.

    doc = do_add_file(actor=…, patient_id=…, kind="document", upload=request.FILES["file"], title="Referral")
    with open_file(actor, kind="photo", file_id=…) as (row, stream): …

Documents (health.documents) and photos (health.photos) are separate tables with separate
categories, so the door refuses billing a photo and the front desk a document before a byte is
read. One `records:file:added` audit entry per upload (ids, category, size); each opening is
the door's `records:chart:opened` naming the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator

from confide.access.door import open_chart
from confide.core.purposes import Purpose
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.text import lower_first, validation_message
from confide.records.models import Document, Photo, RepresentativeDocument
from confide.vault.files import JPEG, PDF, PNG, DecryptedFile, EncryptedStorage, FileRejected, validate_upload

# "authorization": the document kept with a guardian's portal link (records/representatives.py
# adds it; do_add_file refuses it, since it needs its link).
KINDS = {"document": Document, "photo": Photo, "authorization": RepresentativeDocument}
ALLOWED = {"document": (PDF, JPEG, PNG), "photo": (JPEG, PNG), "authorization": (PDF, JPEG, PNG)}
TITLE_LIMIT = next(v.limit_value for v in Document._meta.get_field("title").validators if isinstance(v, MaxLengthValidator))


def _model(kind: str):
    if kind not in KINDS:
        raise InvalidInput("A file is a document or a photo.")
    return KINDS[kind]


def do_add_file(*, actor: StaffActor, patient_id, kind: str, upload, title: str, request=None, storage: EncryptedStorage | None = None):
    """Store an upload in the patient's chart. Bad files (type, size, damage) raise
    InvalidInput with the validator's message; nothing is stored then."""
    model = _model(kind)
    if kind == "authorization":
        raise InvalidInput("A file is a document or a photo.")  # with its portal link only: records/representatives.py
    if not isinstance(actor, StaffActor) or not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)
    return store_file(actor=actor, patient_id=patient_id, kind=kind, upload=upload, title=title, request=request, storage=storage)


def store_file(*, actor: StaffActor, patient_id, kind: str, upload, title: str, request=None, storage: EncryptedStorage | None = None,
               fields: dict | None = None, detail: dict | None = None):
    """The checks and the storing every kind shares (the caller checked the permission):
    `fields` are more columns of the row (an authorization's link), `detail` more of the entry's."""
    model = _model(kind)
    purpose = Purpose.TREATMENT
    title = (title or "").strip()
    if not title or len(title) > TITLE_LIMIT:
        raise InvalidInput(f"Give the file a title of up to {TITLE_LIMIT} characters (never the patient's name is needed).")
    try:
        model._meta.get_field("title").run_validators(title)  # the field's one rule, as the upload form's
    except DjangoValidationError as exc:
        raise InvalidInput(f"The title: {lower_first(validation_message(exc))}") from None
    declared = getattr(upload, "content_type", "") or ""
    if declared.split(";", 1)[0].strip().lower() not in ALLOWED[kind]:
        raise InvalidInput("Photos are JPEG or PNG; documents are PDF, JPEG or PNG.")
    try:
        clean = validate_upload(upload, declared_content_type=declared)
    except FileRejected as exc:
        raise InvalidInput(str(exc)) from None
    storage = storage or EncryptedStorage()
    with open_chart(actor, patient_id, purpose, categories={model.CATEGORY}, request=request, for_update=True) as chart:
        patient = chart.patient
        try:
            stored_name = storage.save_encrypted(
                kind, clean.file, practice_id=patient.practice_id, subject_id=patient.pk, content_type=clean.content_type, category=model.CATEGORY
            )
        finally:
            if clean.file is not upload:
                clean.file.close()  # a re-encoded image's spool: its temporary file goes now
        try:
            row = model(
                practice_id=patient.practice_id, patient=patient, uploaded_by_id=actor.user_id, stored_name=stored_name,
                content_type=clean.content_type, size=clean.size, **(fields or {}),
            )  # fmt: skip
            row.title = title
            row.save()
            record(
                AuditEvent.FILE_ADDED, practice_id=patient.practice_id, actor=actor, purpose=purpose.value,
                subject_id=patient.pk, resource_ids=[row.pk], categories={model.CATEGORY},
                detail={"kind": kind, "size": clean.size, "content_type": clean.content_type} | (detail or {}), request=request,
            )  # fmt: skip
        except BaseException:
            storage.delete(stored_name)  # the row did not commit: no orphaned ciphertext
            raise
    return row


def _file_row(kind: str, file_id, patient_id=None):
    """NotFound for a missing file, another practice's, or (when the caller names the patient,
    as a URL does) another patient's."""
    model = _model(kind)
    try:
        pk = uuid.UUID(str(file_id))
    except ValueError:
        raise NotFound("file") from None
    row = model.objects.filter(pk=pk).first()
    if row is None or (patient_id is not None and str(row.patient_id) != str(patient_id)):
        raise NotFound("file")
    return model, row


@contextmanager
def open_file(
    actor: StaffActor, *, kind: str, file_id, patient_id=None, request=None, storage: EncryptedStorage | None = None
) -> Iterator[tuple]:
    """(row with its title readable, a binary stream of the plaintext) while the door is open."""
    model, row = _file_row(kind, file_id, patient_id)
    storage = storage or EncryptedStorage()
    with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={model.CATEGORY}, request=request) as chart:
        chart.entry  # the opening is on record before any byte is read  # noqa: B018
        stream = storage.open_decrypted(row.stored_name, practice_id=row.practice_id, subject_id=row.patient_id, category=model.CATEGORY)
        try:
            yield row, stream
        finally:
            stream.close()


@dataclass(frozen=True)
class Download:
    """A file released by the door, for a response to stream: no title (the title is PHI and
    never becomes a filename), the verified type and size, and the decrypting stream."""

    id: uuid.UUID
    kind: str
    content_type: str
    size: int
    stream: DecryptedFile

    @property
    def filename(self) -> str:
        """A name made here: the kind, a short id and the extension of the verified type."""
        return f"{self.kind}-{self.id.hex[:12]}{EXTENSIONS[self.content_type]}"


EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}


def open_file_for_download(
    actor: StaffActor, *, patient_id, kind: str, file_id, request=None, storage: EncryptedStorage | None = None
) -> Download:
    """Open a file for a response to stream. The door decides and records the opening (one
    `records:chart:opened` naming the file's category, committed before a byte is read); the
    stream is opened inside it — which unwraps the file key and authenticates the header — and
    handed to the caller, who streams and closes it after the door has closed. Every segment
    is still authenticated as it is read; a damaged one raises mid-stream."""
    model, row = _file_row(kind, file_id, patient_id)
    storage = storage or EncryptedStorage()
    with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={model.CATEGORY}, request=request) as chart:
        chart.entry  # the opening is on record before any byte is read  # noqa: B018
        stream = storage.open_decrypted(row.stored_name, practice_id=row.practice_id, subject_id=row.patient_id, category=model.CATEGORY)
    return Download(id=row.pk, kind=kind, content_type=stream.content_type, size=stream.size, stream=stream)


def list_files(actor: StaffActor, patient_id, *, kind: str, request=None) -> list[dict]:
    model = _model(kind)
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={model.CATEGORY}, request=request) as chart:
        return [
            {"id": r.pk, "title": str(r.title), "content_type": r.content_type, "size": r.size, "created_at": r.created_at,
             "uploaded_by_id": r.uploaded_by_id}
            for r in model.objects.filter(patient_id=chart.patient.pk)
        ]  # fmt: skip
