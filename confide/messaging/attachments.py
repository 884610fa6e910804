"""Files sent with a portal message: the records upload validation, the vault's encrypted storage.

    clean = check_attachment(upload)                    before anything is written (InvalidInput)
    store_attachment(message, clean)                    inside the chart door the message was written in
    open_attachment_for_staff(actor, attachment_id)     a Download (the door records the opening)
    open_attachment_for_patient(actor, attachment_id)   the same, for the patient's own thread only

Nothing new is validated here: the type list is the chart documents' (records/files.py ALLOWED),
and `validate_upload` (vault/files.py) sniffs the bytes, caps the size and the pixels and
re-encodes images without their metadata, exactly as for a document a clinician uploads.
"""

from __future__ import annotations

import uuid

from django.http import StreamingHttpResponse

from confide.access import policy
from confide.access.door import open_chart
from confide.core.http import streamed_file
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.messaging.models import MESSAGES, Attachment, Message
from confide.records.files import ALLOWED, Download
from confide.vault.files import CleanUpload, EncryptedStorage, FileRejected, validate_upload

ATTACHMENT_TYPES = ALLOWED["document"]  # PDF, JPEG, PNG: what a chart document may be


def has_upload(upload) -> bool:
    return upload is not None and (getattr(upload, "refusal", None) or getattr(upload, "size", 0) or getattr(upload, "name", ""))


def check_attachment(upload) -> CleanUpload:
    declared = (getattr(upload, "content_type", "") or "").split(";", 1)[0].strip().lower()
    if declared not in ATTACHMENT_TYPES and not getattr(upload, "refusal", None):
        raise InvalidInput("Attach a PDF, a JPEG or a PNG.")
    try:
        return validate_upload(upload, declared_content_type=declared, accepted=ATTACHMENT_TYPES)
    except FileRejected as exc:
        raise InvalidInput(str(exc)) from None


def store_attachment(message: Message, clean: CleanUpload, *, storage: EncryptedStorage | None = None) -> Attachment:
    """Inside an opening of the patient's chart that grants `communications.messages`."""
    storage = storage or EncryptedStorage()
    stored = storage.save_encrypted("attachment", clean.file, practice_id=message.practice_id, subject_id=message.patient_id,
                                    content_type=clean.content_type, category=MESSAGES)  # fmt: skip
    try:
        return Attachment.objects.create(practice_id=message.practice_id, message=message, patient_id=message.patient_id,
                                         stored_name=stored, content_type=clean.content_type, size=clean.size)  # fmt: skip
    except BaseException:
        storage.delete(stored)  # no orphaned ciphertext
        raise


def _row(attachment_id) -> Attachment:
    try:
        pk = uuid.UUID(str(attachment_id))
    except ValueError:
        raise NotFound("attachment") from None
    row = Attachment.objects.filter(pk=pk).select_related("message").first()
    if row is None:
        raise NotFound("attachment")
    return row


def _download(actor, row: Attachment, purpose: Purpose, request, storage) -> Download:
    storage = storage or EncryptedStorage()
    with open_chart(actor, row.patient_id, purpose, categories={policy.MESSAGES}, request=request) as chart:
        chart.entry  # the opening is on record before any byte is read  # noqa: B018
        stream = storage.open_decrypted(row.stored_name, practice_id=row.practice_id, subject_id=row.patient_id, category=MESSAGES)
    return Download(id=row.pk, kind="attachment", content_type=stream.content_type, size=stream.size, stream=stream)


def open_attachment_for_staff(actor: StaffActor, attachment_id, *, request=None, storage=None) -> Download:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.MESSAGES_VIEW):
        raise Forbidden(Perm.MESSAGES_VIEW)
    row = _row(attachment_id)
    if row.practice_id != actor.practice_id:
        raise NotFound("attachment")
    return _download(actor, row, Purpose.TREATMENT, request, storage)


def open_attachment_for_patient(actor: PatientActor, attachment_id, *, request=None, storage=None) -> Download:
    """Only an attachment of the conversation this actor sees (their own, or the one of their
    link as a representative); anything else, another practice's too, is the same NotFound."""
    from confide.messaging.portal_thread import thread_link

    row = _row(attachment_id)
    if row.practice_id != actor.practice_id or row.patient_id != actor.patient_id or row.message.thread.link_id != thread_link(actor):
        raise NotFound("attachment")
    return _download(actor, row, Purpose.PATIENT_REQUEST, request, storage)


def streamed(download: Download) -> StreamingHttpResponse:
    """The decrypting stream as the response, never rendered as a page (core/http.py)."""
    return streamed_file(download.stream, content_type=download.content_type, size=download.size, filename=download.filename)
