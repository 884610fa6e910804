""""Download my record" (RTS2): a FHIR bundle or a readable PDF summary of what the portal shares,
made in the background, kept encrypted, handed to the account that asked for it for a while.

    export = do_request_export(actor=request.portal.actor, fmt="pdf")   # queued; the task runs after commit
    run_export(export_id, practice_id)                                  # the task: made, sealed, done
    download = open_export_download(actor=…, user=…, export_id=…)       # a stream for the view
    delete_expired_exports()                                            # the clean-up task

The task opens the record through the chart door as the same patient actor the account was
(the link it acted through, re-read by the door: a link ended since makes nothing), with the
portal's categories: never psychotherapy notes, never the staff's notes. The file is sealed
with the vault's encrypted files under the patient's key, offered only to the account that asked
(another account, or another record of the same account, finds nothing: 404), for
CONFIDE_PORTAL_DOWNLOAD_MINUTES after it is ready; then the clean-up deletes it. Every step is
audited with ids and categories only: asked (`portal:export:requested`), made
(`records:chart:exported`), downloaded (`portal:export:downloaded`), deleted."""

from __future__ import annotations

import datetime
import io
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor
from confide.core.errors import InvalidInput, NotFound
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.portal.models import RecordExport
from confide.portal.record import EXPORT_CATEGORIES, granted, read_record
from confide.vault.files import DecryptedFile, EncryptedStorage

logger = logging.getLogger(__name__)

Format, Status = RecordExport.Format, RecordExport.Status
CONTENT_TYPES = {Format.FHIR: "application/fhir+json", Format.PDF: "application/pdf"}
EXTENSIONS = {Format.FHIR: ".json", Format.PDF: ".pdf"}
# How many of an account's recent exports the record page lists.
RECENT = 5
CLEANUP_JOB = "portal-export-cleanup"
# How long a waiting export stands in for a new request of the same format.
PENDING_FOR = datetime.timedelta(minutes=10)


class ExportExpired(Exception):
    """The download link's time is over: the page says so and offers to make a new one."""


def _download_minutes() -> int:
    return int(settings.CONFIDE_PORTAL_DOWNLOAD_MINUTES)


def do_request_export(*, actor: PatientActor, fmt: str, request=None) -> RecordExport:
    """Queue an export of the actor's current record for the account. One of each format at a
    time: asking again while one is waiting or being made (asked for in the last PENDING_FOR)
    returns that one."""
    if not isinstance(actor, PatientActor):
        raise NotFound("record")
    if fmt not in Format.values:
        raise InvalidInput("Choose a PDF summary or a FHIR file.")
    with transaction.atomic():
        # A recent one only: an export whose worker died long ago must not block a new one.
        pending = RecordExport.objects.filter(
            requested_by_id=actor.user_id, patient_id=actor.patient_id, format=fmt, status__in=[Status.QUEUED, Status.RUNNING],
            created_at__gte=timezone.now() - PENDING_FOR,
        ).first()
        if pending is not None:
            return pending
        export = RecordExport.objects.create(
            practice_id=actor.practice_id, patient_id=actor.patient_id, requested_by_id=actor.user_id, link_id=actor.link_id, format=fmt,
        )  # fmt: skip
        record(
            AuditEvent.RECORD_EXPORT_REQUESTED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=actor.patient_id, resource_ids=[export.pk], detail={"format": fmt}, request=request,
        )  # fmt: skip
        from confide.portal.tasks import make_record_export

        export_id, practice_id = str(export.pk), str(actor.practice_id)
        transaction.on_commit(lambda: make_record_export.enqueue(export_id, practice_id))
    return export


def _progress(export_id, value: int, **more) -> None:
    """Progress the page can see at once: each step commits on its own (the reading itself runs
    in the door's transaction, so no step is written from inside it)."""
    RecordExport.objects.filter(pk=export_id).update(progress=value, updated_at=timezone.now(), **more)


def _actor_of(export: RecordExport) -> PatientActor:
    from confide.accounts.models import LinkKind, PortalLink

    kind = PortalLink.objects.filter(id=export.link_id).values_list("kind", flat=True).first()
    return PatientActor(
        practice_id=export.practice_id, patient_id=export.patient_id, user_id=export.requested_by_id, link_id=export.link_id,
        representative=kind == LinkKind.REPRESENTATIVE,
    )  # fmt: skip


def render_document(summary, *, practice_name: str, made_at: datetime.datetime):
    """The readable summary laid out by WeasyPrint (a `weasyprint.Document`): the record page's
    sections from a Django template (portal/record_pdf.html). Nothing is fetched: the styles
    are in the template and no URL is resolved (no base URL)."""
    from confide.records.pdf import render_document as laid_out

    return laid_out("portal/record_pdf.html", {"record": summary, "practice_name": practice_name, "made_at": made_at})


def render_pdf(summary, *, practice_name: str, made_at: datetime.datetime) -> bytes:
    return render_document(summary, practice_name=practice_name, made_at=made_at).write_pdf()


def run_export(export_id, practice_id, *, storage: EncryptedStorage | None = None) -> str:
    """Make one export (the task's body): claimed from `queued` by a conditional update, so two
    workers never both make it; 'done', 'failed' or 'skipped'."""
    storage = storage or EncryptedStorage()
    with tenant_context(practice_id=uuid.UUID(str(practice_id))):
        claimed = RecordExport.objects.filter(pk=export_id, status=Status.QUEUED).update(
            status=Status.RUNNING, progress=10, updated_at=timezone.now()
        )
        if not claimed:
            return "skipped"
        export = RecordExport.objects.select_related("practice").get(pk=export_id)
        stored_name = ""
        try:
            actor = _actor_of(export)
            categories = EXPORT_CATEGORIES & granted(actor)
            with open_chart(actor, export.patient_id, Purpose.PATIENT_REQUEST, categories=categories) as chart:
                opened = chart.categories
                if export.format == Format.FHIR:
                    from confide.records.fhir import bundle_for_opening

                    data, counts = bundle_for_opening(chart)
                else:
                    summary, counts = read_record(chart.patient, opened), {}
            _progress(export.pk, 40)
            if export.format == Format.PDF:
                data = render_pdf(summary, practice_name=export.practice.name, made_at=timezone.now())
            _progress(export.pk, 75)
            # Sealed under the patient's key in a category the account may open again to download it.
            category = policy.DOCUMENTS if policy.DOCUMENTS in opened else policy.NAME
            with open_chart(actor, export.patient_id, Purpose.PATIENT_REQUEST, categories={category}):
                stored_name = storage.save_encrypted(
                    "record-export", io.BytesIO(data), practice_id=export.practice_id, subject_id=export.patient_id,
                    content_type=CONTENT_TYPES[export.format], category=category,
                )  # fmt: skip
            _progress(export.pk, 90)
            now = timezone.now()
            with transaction.atomic():
                record(
                    AuditEvent.CHART_EXPORTED, practice_id=export.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
                    subject_id=export.patient_id, resource_ids=[export.pk], categories=opened,
                    detail={"format": export.format, "resources": counts, "psychotherapy_notes": False},
                )  # fmt: skip
                RecordExport.objects.filter(pk=export.pk).update(
                    status=Status.DONE, progress=100, stored_name=stored_name, category=category, size=len(data),
                    expires_at=now + datetime.timedelta(minutes=_download_minutes()), updated_at=now,
                )  # fmt: skip
        except Exception:
            logger.warning("record export failed", extra={"export_id": str(export.pk)}, exc_info=False)
            if stored_name:
                storage.delete(stored_name)
            RecordExport.objects.filter(pk=export.pk).update(status=Status.FAILED, updated_at=timezone.now())
            return "failed"
    _schedule_cleanup(now + datetime.timedelta(minutes=_download_minutes()))
    return "done"


def _schedule_cleanup(when: datetime.datetime) -> None:
    from django_tasks import default_task_backend

    from confide.portal.tasks import delete_expired_record_exports

    if default_task_backend.supports_defer:
        delete_expired_record_exports.using(run_after=when + datetime.timedelta(minutes=1)).enqueue()


# --- what the account sees of its exports ---------------------------------------------------------
def get_export(*, actor: PatientActor, user, export_id) -> RecordExport:
    """One export of the account's current record, or NotFound: another account's, another
    record's (a parent's export of a child while acting on their own record), or none."""
    try:
        pk = uuid.UUID(str(export_id))
    except ValueError:
        raise NotFound("export") from None
    if not isinstance(actor, PatientActor) or user is None or user.pk != actor.user_id:
        raise NotFound("export")
    export = RecordExport.objects.filter(pk=pk, requested_by_id=user.pk, patient_id=actor.patient_id).first()
    if export is None:
        raise NotFound("export")
    return export


def list_exports(*, actor: PatientActor, user) -> list[RecordExport]:
    """The account's recent exports of the current record that are still waiting, being made or
    downloadable (an expired one is gone from the list; its link says it expired)."""
    now = timezone.now()
    rows = RecordExport.objects.filter(requested_by_id=user.pk, patient_id=actor.patient_id).exclude(status=Status.FAILED)
    return [e for e in rows.order_by("-created_at")[: RECENT * 2] if e.expires_at is None or e.expires_at > now][:RECENT]


def is_expired(export: RecordExport) -> bool:
    return export.status == Status.DONE and (not export.stored_name or export.expires_at is None or export.expires_at <= timezone.now())


@dataclass(frozen=True)
class ExportDownload:
    id: uuid.UUID
    format: str
    content_type: str
    size: int
    stream: DecryptedFile
    made_on: datetime.date

    @property
    def filename(self) -> str:
        """A name made here (never the patient's): "my-record-2026-03-02.pdf"."""
        return f"my-record-{self.made_on.isoformat()}{EXTENSIONS[self.format]}"


def open_export_download(*, actor: PatientActor, user, export_id, request=None, storage: EncryptedStorage | None = None) -> ExportDownload:
    """The export's decrypting stream, for the view to stream and close. NotFound unless it is
    this account's export of the current record and made; ExportExpired past its time. The door
    records the opening, and `portal:export:downloaded` the download, before a byte is read."""
    export = get_export(actor=actor, user=user, export_id=export_id)
    if export.status != Status.DONE:
        raise NotFound("export")
    if is_expired(export):
        raise ExportExpired()
    storage = storage or EncryptedStorage()
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={export.category}, request=request) as chart:
        stream = storage.open_decrypted(export.stored_name, practice_id=export.practice_id, subject_id=chart.patient.pk, category=export.category)
        try:
            now = timezone.now()
            RecordExport.objects.filter(pk=export.pk, downloaded_at__isnull=True).update(downloaded_at=now, updated_at=now)
            record(
                AuditEvent.RECORD_EXPORT_DOWNLOADED, practice_id=export.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
                subject_id=export.patient_id, resource_ids=[export.pk], categories={export.category}, detail={"format": export.format},
                request=request,
            )  # fmt: skip
        except BaseException:
            stream.close()
            raise
    return ExportDownload(id=export.pk, format=export.format, content_type=CONTENT_TYPES[export.format], size=stream.size, stream=stream,
                          made_on=timezone.localdate(export.updated_at))  # fmt: skip


# --- the clean-up -------------------------------------------------------------------------------------
def delete_expired_exports(*, storage: EncryptedStorage | None = None, now: datetime.datetime | None = None) -> int:
    """Delete the files of every practice's expired exports (the rows stay, with ids and
    states, as the record that an export was made and when it ended). Returns how many."""
    from confide.core.models import Practice

    storage = storage or EncryptedStorage()
    now = now or timezone.now()
    deleted = 0
    for practice_id in Practice.objects.order_by("slug").values_list("id", flat=True):
        with tenant_context(practice_id=practice_id):
            for export in RecordExport.objects.filter(expires_at__lte=now).exclude(stored_name=""):
                with transaction.atomic():
                    if not RecordExport.objects.filter(pk=export.pk, stored_name=export.stored_name).update(stored_name="", updated_at=now):
                        continue  # another clean-up got there first
                    record(
                        AuditEvent.RECORD_EXPORT_DELETED, practice_id=practice_id, actor=system_actor(CLEANUP_JOB),
                        subject_id=export.patient_id, resource_ids=[export.pk], detail={"format": export.format},
                    )  # fmt: skip
                storage.delete(export.stored_name)
                deleted += 1
    return deleted
