"""The access / portable copy (RTS1, RTS2): one ZIP of everything the practice holds about a patient.

    queue_export(request_row=…)                 after a verified `see`/`copy` request: queued, the task runs after commit
    run_export(export_id, practice_id)          the task's body: claimed, written, sealed, ready (or failed)
    write_export_zip(fileobj, practice_id=…, patient_id=…, …)   the ZIP itself, into any seekable file
    export_to_path(patient_id, out_path)        the operator's `confide rights export --patient … --out …`
    latest_export(actor=PatientActor)           the privacy page's export of the current record
    open_download(actor=PatientActor, export_id=…)   the decrypting stream for the portal's download
    copy_fee_cents(practice_id) / set_copy_fee(actor=…, cents=…)   RTS10

What is in it:

    data.json          every category held, section by section: driven by the policy reachability
                       map (every model with fields sealed under the patient's key, found by
                       walking the app registry: `patient_models()`), so a new model is exported
                       without anyone remembering to add it here
    fhir/bundle.json   the FHIR R4 (R4B) Bundle (records/fhir.py `bundle_for_opening`), validated
    summary.pdf        a readable summary (WeasyPrint, template rights/export_summary.html)
    files/…            every document, photo, guardianship paper and message attachment, decrypted
                       by streaming from the vault's encrypted files
    consents.json      the consent ledger's events for the patient
    disclosures.json   the accounting of disclosures (confide/disclosures, six years)

Psychotherapy notes are never in it unless staff recorded the patient's specific authorization on
the request (`RightsRequest.psychotherapy_authorized`); then they come through the door's release
opening (`open_psychotherapy_notes_for_release`), which checks that flag itself.

Every read goes through the chart door as the registered `rights-export-job` (one opening per
section, so the progress the page polls is committed between sections); one `rights:export:made`
entry per export names the ids, categories and counts. Flat memory: rows are read with
`.iterator()`, every member is written with `ZipFile.open(name, "w")` and files are copied in
chunks; the ZIP is built in an anonymous temporary file (gone with the process if it is killed),
then sealed under the patient's key (vault/files.py) and only then referenced from the `Export`
row — a run killed mid-way leaves nothing downloadable and a re-run starts from the beginning.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import logging
import mimetypes
import os
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import RIGHTS_EXPORT_JOB, open_chart, open_psychotherapy_notes_for_release
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm, Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.rights.models import (
    COPY_FEE_CAP_CENTS, OPEN_STATUSES, Export, ExportStatus, LetterKind, LetterStatus, RequestKind, RequestStatus, RightsRequest,
    RightsSettings, Verification,
)  # fmt: skip
from confide.vault.fields import encrypted_fields
from confide.vault.files import DecryptedFile, EncryptedStorage

logger = logging.getLogger(__name__)

EXPORT_KINDS = frozenset({RequestKind.SEE, RequestKind.COPY})
DOWNLOAD_DAYS = 7  # the download link's life
STALE_AFTER = datetime.timedelta(hours=2)  # a run still "running" this long after it started was killed
CHUNK = 1 << 20
FILE_BATCH = 50  # files copied per door opening (progress is committed between batches)
STORED_CATEGORY = policy.DOCUMENTS  # the sealed ZIP's category: the patient's portal opens it to download
CONTENT_TYPE = "application/zip"
PSYCHOTHERAPY = "health.psychotherapy_notes"
FULFILMENT_TEMPLATE = "rights/letters/fulfilment_copy.txt"

# Files held for a patient, by model label: the category their bytes are sealed in. Every model
# with a `stored_name` and a `patient` is either here or in NOT_PATIENT_FILES (a test checks).
FILE_MODELS = {
    "records.Document": "health.documents",
    "records.Photo": "health.photos",
    "records.RepresentativeDocument": "contact.guardian",
    "messaging.Attachment": "communications.messages",
}
NOT_PATIENT_FILES = {
    "portal.RecordExport": "a copy already made for the patient (its content is in this export)",
    "rights.Export": "this export itself",
    "records.IntakePhoto": "sealed under the consultation's own key (a data subject of its own)",
}
# Plain columns of a row that say something to the patient (dates, states); never internal names.
_PLAIN_TYPES = (models.DateTimeField, models.DateField, models.BooleanField)
_SKIP_PLAIN = {"updated_at"}


class ExportExpired(Exception):
    """The download link's time is over (the page answers 410 and says so)."""


# --- what is exported -----------------------------------------------------------------------------
def patient_models() -> list:
    """Every model holding fields sealed under a patient's key, as the reachability map finds them
    (confide/policy/reachability.py): the Patient itself first, then by label."""
    from confide.policy.reachability import path_to_patient

    found = []
    for model in apps.get_models():
        fields = encrypted_fields(model)
        if not fields or all(f.scope != "s" for f in fields):
            continue  # practice-keyed secrets: nobody's personal data
        if path_to_patient(model) is None and not getattr(model, "DATA_SUBJECT_ROOT", False):
            continue  # reachability's own test fails on it; nothing to follow here
        found.append(model)
    return sorted(found, key=lambda m: (m._meta.label != "records.Patient", m._meta.label))


def _is_psychotherapy(model) -> bool:
    return all(f.category in policy.AUTHOR_ONLY_CATEGORIES for f in encrypted_fields(model))


def _is_own_subject(model) -> bool:
    """A data subject of its own (an online consultation, a booking request before it became a
    patient): sealed under the row's own key, not the patient's. The export lists these rows with
    their dates; what was accepted from them is in the chart itself (intake answers, appointments)."""
    return bool(getattr(model, "DATA_SUBJECT_ROOT", False))


def _categories(model) -> frozenset[str]:
    return frozenset(f.category for f in encrypted_fields(model))


def _patient_filter(model, patient_id) -> dict:
    from confide.policy.reachability import path_to_patient

    path = path_to_patient(model)
    return {"pk": patient_id} if not path else {"__".join(path): patient_id}


@functools.cache
def _plain_fields(model) -> tuple:
    """The plain columns worth showing (dates, flags, states), with their choices' labels."""
    sealed = {f.name for f in encrypted_fields(model)}
    out = []
    for f in model._meta.concrete_fields:
        if f.name in sealed or f.name in _SKIP_PLAIN or f.primary_key:
            continue
        if isinstance(f, _PLAIN_TYPES) or (f.choices and not isinstance(f, models.ForeignKey)):
            out.append((f.name, f.attname, dict(f.flatchoices) if f.choices else None))
    return tuple(out)


@functools.cache
def _sealed_fields(model) -> tuple:
    return tuple((f.name, f.category) for f in encrypted_fields(model))


def _plain(row, model) -> dict:
    out = {"id": str(row.pk)}
    for name, attname, choices in _plain_fields(model):
        value = getattr(row, attname)
        if choices is not None and value not in (None, ""):
            out[name] = str(value)
            label = choices.get(value)
            if label is not None and str(label) != str(value):
                out[f"{name}_label"] = str(label)
        else:
            out[name] = value
    return out


def _sealed(row, model, categories=None) -> dict:
    """The row's sealed fields, grouped by their category (read inside an open door); only
    `categories` when given."""
    by_category: dict[str, dict] = {}
    for name, category in _sealed_fields(model):
        if categories is not None and category not in categories:
            continue
        by_category.setdefault(category, {})[name] = getattr(row, name)
    return by_category


def _dumps(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=None)


# --- the ZIP ------------------------------------------------------------------------------------------
@dataclass
class ExportCounts:
    sections: dict
    files: int
    file_bytes: int
    categories: set
    psychotherapy_notes: bool

    def as_detail(self) -> dict:
        return {"sections": dict(sorted(self.sections.items())), "files": self.files, "file_bytes": self.file_bytes,
                "psychotherapy_notes": self.psychotherapy_notes}  # fmt: skip


def _file_member(label: str, row, content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type or "") or ".bin"
    return f"files/{label.split('.')[1].lower()}/{row.pk}{ext}"


def planned_steps(practice_id, patient_id) -> int:
    """How many steps the progress bar counts: a section per model, a batch per FILE_BATCH files,
    and the FHIR bundle, consents, disclosures and summary."""
    with tenant_context(practice_id=practice_id):
        files = sum(apps.get_model(label).objects.filter(patient_id=patient_id).count() for label in FILE_MODELS)
    return len(patient_models()) + -(-files // FILE_BATCH) + 4


def write_export_zip(
    fileobj, *, practice_id, patient_id, include_psychotherapy: bool = False, rights_request_id=None, storage=None, progress=None,
    withheld: frozenset[str] = frozenset(),
) -> ExportCounts:  # fmt: skip
    """Write the patient's ZIP into `fileobj` (a seekable binary file), reading through the door
    as the export job. `progress(step)` is called between openings (outside their transactions).
    `withheld`: categories left out (a parent's or guardian's request: what the minor controls, MIN3)."""
    storage = storage or EncryptedStorage()
    job = RIGHTS_EXPORT_JOB.for_practice(practice_id)
    step = 0
    counts = ExportCounts(sections={}, files=0, file_bytes=0, categories=set(), psychotherapy_notes=False)
    summary: dict = {}

    def advance():
        nonlocal step
        step += 1
        if progress is not None:
            progress(step)

    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        # data.json: one section per model, each read in its own opening.
        with zf.open("data.json", "w", force_zip64=True) as out:
            write = lambda text: out.write(text.encode())  # noqa: E731
            write('{"format": "confide-rights-export/1", "patient_id": ' + _dumps(str(patient_id)))
            write(', "made_at": ' + _dumps(timezone.now()) + ', "sections": {')
            first = True
            excluded = {}
            for model in patient_models():
                label = model._meta.label
                if _is_psychotherapy(model) and not include_psychotherapy:
                    excluded[label] = "Psychotherapy notes are included only with your specific written authorization."
                    advance()
                    continue
                if _categories(model) <= withheld:
                    excluded[label] = "Information the young person controls is not given to a parent or guardian."
                    advance()
                    continue
                write(("" if first else ", ") + _dumps(label) + ": [")
                first = False
                n = _write_section(write, model, job, patient_id, rights_request_id, counts, summary, withheld)
                counts.sections[label] = n
                write("]")
                advance()
            write('}, "excluded": ' + _dumps(excluded) + "}")
        # files/…: decrypted by streaming, FILE_BATCH per opening.
        for label, category in FILE_MODELS.items():
            if category in withheld:
                continue
            model = apps.get_model(label)
            with tenant_context(practice_id=practice_id):
                ids = list(model.objects.filter(patient_id=patient_id).order_by("created_at", "pk").values_list("pk", flat=True))
            for start in range(0, len(ids), FILE_BATCH):
                batch = ids[start : start + FILE_BATCH]
                with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories={category}):
                    for row in model.objects.filter(pk__in=batch).order_by("created_at", "pk").iterator(chunk_size=FILE_BATCH):
                        with storage.open_decrypted(row.stored_name, practice_id=row.practice_id, subject_id=patient_id, category=category) as src:
                            with zf.open(_file_member(label, row, row.content_type), "w", force_zip64=True) as dst:
                                shutil.copyfileobj(src, dst, CHUNK)
                        counts.files += 1
                        counts.file_bytes += int(row.size or 0)
                counts.categories.add(category)
                advance()
        # fhir/bundle.json: what the FHIR export job would write, from the same opening's grant.
        from confide.records.fhir import bundle_for_opening

        fhir_categories = (frozenset(policy.KNOWN_CATEGORIES) & RIGHTS_EXPORT_JOB.categories) - withheld
        with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories=fhir_categories) as chart:
            data, resources = bundle_for_opening(chart)
        zf.writestr("fhir/bundle.json", data)
        summary["fhir_resources"] = resources
        del data
        advance()
        # consents.json: the ledger's events (no PHI in them: topics, actions, dates).
        zf.writestr("consents.json", _dumps(consent_events(practice_id, patient_id)))
        advance()
        # disclosures.json: the accounting of disclosures (read through the disclosure job).
        from confide.disclosures.services import accounting_entries

        entries = accounting_entries(practice_id=practice_id, patient_id=patient_id)
        zf.writestr("disclosures.json", _dumps([_disclosure(e) for e in entries]))
        counts.sections["disclosures"] = len(entries)
        advance()
        # summary.pdf: readable, from what was gathered above.
        zf.writestr("summary.pdf", _summary_pdf(practice_id, summary, counts))
        advance()
    return counts


def _write_section(write, model, job, patient_id, rights_request_id, counts: ExportCounts, summary: dict, withheld=frozenset()) -> int:
    label = model._meta.label
    n = 0
    if _is_psychotherapy(model):
        with open_psychotherapy_notes_for_release(job, patient_id, rights_request_id=rights_request_id):
            for row in model.objects.filter(**_patient_filter(model, patient_id)).order_by("created_at", "pk").iterator(chunk_size=500):
                write(("" if n == 0 else ", ") + _dumps({**_plain(row, model), "data": _sealed(row, model)}))
                n += 1
        counts.psychotherapy_notes = True
        counts.categories.add(PSYCHOTHERAPY)
        return n
    categories = (_categories(model) & RIGHTS_EXPORT_JOB.categories) - withheld
    if _is_own_subject(model):
        # Sealed under the row's own key: listed (dates, states), not opened here.
        with tenant_context(practice_id=job.practice_id):
            for row in model.objects.filter(**_patient_filter(model, patient_id)).order_by("created_at", "pk").iterator(chunk_size=500):
                write(("" if n == 0 else ", ") + _dumps(_plain(row, model)))
                n += 1
        return n
    with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories=categories) as chart:
        if label == "records.Patient":
            row = chart.patient
            write(_dumps({**_plain(row, model), "data": _sealed(row, model, categories)}))
            summary["patient"] = _patient_summary(row, categories)
            n = 1
        else:
            rows = model.objects.filter(**_patient_filter(model, patient_id)).order_by("created_at", "pk")
            for row in rows.iterator(chunk_size=500):
                item = {**_plain(row, model), "data": _sealed(row, model, categories)}
                if label in FILE_MODELS:
                    item["file"] = _file_member(label, row, row.content_type)
                write(("" if n == 0 else ", ") + _dumps(item))
                n += 1
    counts.categories |= categories
    return n


def _patient_summary(patient, categories) -> dict:
    def listed(value) -> list[str]:
        out = []
        for item in value or []:
            if isinstance(item, dict):
                text = item.get("name") or item.get("display") or item.get("text") or item.get("substance") or item.get("vaccine") or ""
                out.append(str(text)[:200] if text else "(an entry)")
        return out

    lists = (("Medications", "medications", "health.medications"), ("Allergies", "allergies", "health.allergies"),
             ("Conditions", "conditions", "health.conditions"), ("Immunizations", "immunizations", "health.immunizations"))  # fmt: skip
    return {
        "name": " ".join(p for p in (str(patient.given_name or ""), str(patient.family_name or "")) if p) if policy.NAME in categories else "",
        "date_of_birth": patient.date_of_birth if policy.DOB in categories else None,
        "lists": [(title, listed(getattr(patient, field))) for title, field, category in lists if category in categories],
    }


SECTION_TITLES = {
    "records.Patient": "Your details and health lists",
    "records.ProgressNote": "Progress notes",
    "records.Addendum": "Addenda to notes",
    "records.PsychotherapyNote": "Psychotherapy notes",
    "records.PsychotherapyAddendum": "Addenda to psychotherapy notes",
    "records.Document": "Documents",
    "records.Photo": "Photos",
    "records.RepresentativeDocument": "Papers about who may act for you",
    "records.IntakeSubmission": "Online consultation forms",
    "messaging.Message": "Messages",
    "messaging.OutboxEntry": "Messages sent to you",
    "directory.BookingRequest": "Booking requests",
    "disclosures.Disclosure": "Disclosures of your information",
    "rights.RightsRequest": "Your privacy requests",
    "rights.Letter": "Letters about your privacy requests",
    "access.BreakGlassReason": "Emergency openings of your record",
    "consent.ConsentEvidence": "Evidence of your privacy choices",
    "disclosures": "Disclosures (accounting)",
}


def _summary_pdf(practice_id, summary: dict, counts: ExportCounts) -> bytes:
    from confide.core.models import Practice
    from confide.records.pdf import render_pdf

    sections = [(SECTION_TITLES.get(label, label), n) for label, n in sorted(counts.sections.items())]
    context = {
        "practice_name": Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "",
        "made_at": timezone.now(), "patient": summary.get("patient") or {}, "sections": sections, "files": counts.files,
        "psychotherapy_notes": counts.psychotherapy_notes,
    }  # fmt: skip
    return render_pdf("rights/export_summary.html", context)


def consent_events(practice_id, patient_id) -> list[dict]:
    from confide.consent.models import ConsentEvent

    with tenant_context(practice_id=practice_id):
        rows = ConsentEvent.objects.filter(patient_id=patient_id).order_by("at", "created_at")
        return [
            {"id": str(e.pk), "topic": e.topic, "topic_label": e.get_topic_display(), "action": e.action, "channel": e.channel,
             "method": e.method, "at": e.at, "policy_version": e.policy_version, "scope": e.scope}
            for e in rows.iterator(chunk_size=500)
        ]  # fmt: skip


def _disclosure(entry) -> dict:
    return {"id": str(entry.id), "disclosed_at": entry.disclosed_at, "recipient": str(entry.recipient),
            "recipient_address": str(entry.recipient_address or ""), "description": str(entry.description),
            "purpose": str(entry.purpose), "basis": entry.basis, "basis_label": entry.basis_label, "compelled": entry.compelled}  # fmt: skip


def _audit_made(practice_id, patient_id, resource_ids, counts: ExportCounts, **extra) -> None:
    record(
        AuditEvent.RIGHTS_EXPORT_MADE, practice_id=practice_id, actor=system_actor(RIGHTS_EXPORT_JOB.name),
        purpose=Purpose.PATIENT_REQUEST.value, subject_id=patient_id, resource_ids=resource_ids,
        categories=sorted(counts.categories), detail={**counts.as_detail(), **extra},
    )  # fmt: skip


# --- queued exports for requests --------------------------------------------------------------------
def queue_export(*, request_row: RightsRequest, actor=None, request=None) -> Export:
    """Queue the copy for a verified `see` or `copy` request with a patient; one at a time per
    request (a waiting or running one is returned). The task runs after the commit."""
    if request_row.kind not in EXPORT_KINDS:
        raise InvalidInput("Only a request to see or copy the record makes a copy.")
    if request_row.patient_id is None or request_row.verification in (Verification.PENDING, Verification.FAILED):
        raise InvalidInput("The requester must be verified before the copy is made.")
    if request_row.status not in OPEN_STATUSES:
        raise InvalidInput("This request is closed.")
    practice_id = request_row.practice_id
    with tenant_context(practice_id=practice_id), transaction.atomic():
        RightsRequest.objects.select_for_update().filter(pk=request_row.pk).first()  # one queuing at a time per request
        waiting = Export.objects.filter(request_id=request_row.pk, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).first()
        if waiting is not None:
            return waiting
        export = Export.objects.create(practice_id=practice_id, request=request_row, patient_id=request_row.patient_id)
        record(
            AuditEvent.RIGHTS_EXPORT_QUEUED, practice_id=practice_id, actor=actor or system_actor(RIGHTS_EXPORT_JOB.name),
            purpose=Purpose.PATIENT_REQUEST.value, subject_id=request_row.patient_id, resource_ids=[request_row.pk, export.pk],
            request=request,
        )  # fmt: skip
        from confide.rights.tasks import make_rights_export

        export_id, pid = str(export.pk), str(practice_id)
        transaction.on_commit(lambda: make_rights_export.enqueue(export_id, pid), robust=True)
    return export


def start_export_for_staff(*, actor: StaffActor, request_id, request=None) -> Export:
    """The privacy officer starts the copy from the request's page (requests logged by e-mail,
    phone or letter and verified by staff)."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.RIGHTS_QUEUE_VIEW):
        raise Forbidden(Perm.RIGHTS_QUEUE_VIEW)
    with tenant_context(practice_id=actor.practice_id):
        row = RightsRequest.objects.filter(pk=request_id).first()
    if row is None:
        raise NotFound("rights request")
    return queue_export(request_row=row, actor=actor, request=request)


def _claim(export_id) -> datetime.datetime | None:
    now = timezone.now()
    claimable = models.Q(status__in=[ExportStatus.QUEUED, ExportStatus.FAILED]) | models.Q(
        status=ExportStatus.RUNNING, started_at__lt=now - STALE_AFTER
    )
    claimed = Export.objects.filter(claimable, pk=export_id).update(
        status=ExportStatus.RUNNING, started_at=now, finished_at=None, done=0, total=0, stored_name="", size=0, updated_at=now
    )
    return now if claimed else None


def run_export(export_id, practice_id, *, storage: EncryptedStorage | None = None) -> str:
    """Make one export (the task's body): claimed by a conditional update (two workers never both
    make it; a run killed long ago may be claimed again), 'ready', 'failed' or 'skipped'."""
    storage = storage or EncryptedStorage()
    practice_id = uuid.UUID(str(practice_id))
    with tenant_context(practice_id=practice_id):
        started = _claim(export_id)
        if started is None:
            return "skipped"
        export = Export.objects.select_related("request").get(pk=export_id)
        mine = Export.objects.filter(pk=export.pk, status=ExportStatus.RUNNING, started_at=started)
        stored_name = ""
        try:
            total = planned_steps(practice_id, export.patient_id)
            mine.update(total=total)
            with tempfile.TemporaryFile(prefix="confide-rights-export-") as tmp:
                counts = write_export_zip(
                    tmp, practice_id=practice_id, patient_id=export.patient_id, storage=storage,
                    include_psychotherapy=export.request.psychotherapy_authorized and not export.request.by_representative,
                    rights_request_id=export.request_id, withheld=_withheld(export.request),
                    progress=lambda step: mine.update(done=min(step, total), updated_at=timezone.now()),
                )  # fmt: skip
                size = tmp.tell()
                tmp.seek(0)
                with open_chart(RIGHTS_EXPORT_JOB.for_practice(practice_id), export.patient_id, Purpose.PATIENT_REQUEST,
                                categories={STORED_CATEGORY}):  # fmt: skip
                    stored_name = storage.save_encrypted(
                        "rights-export", tmp, practice_id=practice_id, subject_id=export.patient_id, content_type=CONTENT_TYPE,
                        category=STORED_CATEGORY,
                    )  # fmt: skip
            now = timezone.now()
            with transaction.atomic():
                ready = mine.update(
                    status=ExportStatus.READY, done=total, stored_name=stored_name, size=size, finished_at=now,
                    expires_at=now + datetime.timedelta(days=DOWNLOAD_DAYS), counts=counts.as_detail(), updated_at=now,
                )  # fmt: skip
                if not ready:
                    raise RuntimeError("the export was claimed again meanwhile")
                _audit_made(practice_id, export.patient_id, [export.request_id, export.pk], counts)
        except Exception as exc:
            logger.warning("rights export %s failed (%s)", export.pk, type(exc).__name__)
            if stored_name:
                storage.delete(stored_name)
            with transaction.atomic():
                if mine.update(status=ExportStatus.FAILED, finished_at=timezone.now(), updated_at=timezone.now()):
                    record(
                        AuditEvent.RIGHTS_EXPORT_FAILED, practice_id=practice_id, actor=system_actor(RIGHTS_EXPORT_JOB.name),
                        purpose=Purpose.PATIENT_REQUEST.value, subject_id=export.patient_id,
                        resource_ids=[export.request_id, export.pk], detail={"error": type(exc).__name__},
                    )  # fmt: skip
            return "failed"
    _close_request(export)
    transaction.on_commit(lambda: _schedule_cleanup(now + datetime.timedelta(days=DOWNLOAD_DAYS)), robust=True)
    return "ready"


def _withheld(request_row: RightsRequest) -> frozenset[str]:
    """What a parent's or guardian's copy leaves out: the categories the minor controls in this
    practice (the declaration in force; the same rule the door applies to a representative)."""
    if not request_row.by_representative:
        return frozenset()
    from confide.policy.services import declaration_in_force

    return frozenset(declaration_in_force(request_row.practice_id, timezone.now()).minor_controlled_categories())


def _close_request(export: Export) -> None:
    """The request is answered: closed as done (a conditional update; a request closed meanwhile,
    withdrawn say, stays as it is) and the fulfilment letter kept with it."""
    from confide.rights.letters import keep_letter
    from confide.rights.services import ChangedMeanwhile, transition

    for _attempt in range(3):
        with tenant_context(practice_id=export.practice_id):
            row = RightsRequest.objects.filter(pk=export.request_id).first()
        if row is None or row.status not in OPEN_STATUSES:
            return
        try:
            row = transition(
                practice_id=export.practice_id, request_id=row.pk, expected_version=row.version, allowed_from=OPEN_STATUSES,
                status=RequestStatus.DONE, decided_at=timezone.now(),
            )  # fmt: skip
            break
        except ChangedMeanwhile:
            continue
    else:
        return
    with tenant_context(practice_id=export.practice_id):
        expires_at = Export.objects.filter(pk=export.pk).values_list("expires_at", flat=True).first()
    keep_letter(
        practice_id=export.practice_id, request_row=row, kind=LetterKind.FULFILMENT, template=FULFILMENT_TEMPLATE,
        context={"expires_on": timezone.localdate(expires_at), "fee": f"{row.fee_cents / 100:.2f}" if row.fee_cents else ""},
        status=LetterStatus.SENT, channel="portal", stored_context_keys=("expires_on", "fee"),
    )  # fmt: skip


# --- the operator's export ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PathExport:
    patient_id: uuid.UUID
    path: Path
    size: int
    counts: ExportCounts


def export_to_path(patient_id, out_path, *, storage: EncryptedStorage | None = None) -> PathExport:
    """Write the ZIP to `out_path` (mode 0600; a temporary file in the same directory renamed over
    it when complete: nothing is left at `out_path` if it fails). NotFound for a malformed or
    unknown patient; InvalidInput for a path that cannot be written."""
    from confide.records.fhir import practice_of_patient

    try:
        patient_id = uuid.UUID(str(patient_id))
    except ValueError:
        raise NotFound("patient") from None
    out_path = Path(out_path)
    directory = out_path.parent if str(out_path.parent) else Path(".")
    if not directory.is_dir() or not os.access(directory, os.W_OK) or out_path.is_dir():
        raise InvalidInput(f"cannot write {out_path}: the directory does not exist or is not writable")
    practice_id = practice_of_patient(patient_id)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".confide-rights-export-", suffix=".tmp")
    except OSError:
        raise InvalidInput(f"cannot write {out_path}: the directory is not writable") from None
    try:
        with os.fdopen(fd, "w+b") as fileobj:
            counts = write_export_zip(fileobj, practice_id=practice_id, patient_id=patient_id, storage=storage)
            size = fileobj.tell()
        with tenant_context(practice_id=practice_id), transaction.atomic():
            _audit_made(practice_id, patient_id, [patient_id], counts, output="file")
            os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return PathExport(patient_id=patient_id, path=out_path, size=size, counts=counts)


# --- the patient's download ------------------------------------------------------------------------------
def is_expired(export: Export) -> bool:
    return export.link_expired


def latest_export(*, actor: PatientActor) -> Export | None:
    """The current record's most recent export (the privacy page shows its progress or its link)."""
    if not isinstance(actor, PatientActor):
        return None
    with tenant_context(practice_id=actor.practice_id):
        return Export.objects.filter(patient_id=actor.patient_id).exclude(status=ExportStatus.FAILED).order_by("-created_at").first()


def get_export(*, actor: PatientActor, export_id) -> Export:
    try:
        pk = uuid.UUID(str(export_id))
    except ValueError:
        raise NotFound("export") from None
    if not isinstance(actor, PatientActor):
        raise NotFound("export")
    with tenant_context(practice_id=actor.practice_id):
        export = Export.objects.filter(pk=pk, patient_id=actor.patient_id).first()
    if export is None:
        raise NotFound("export")
    return export


@dataclass(frozen=True)
class Download:
    id: uuid.UUID
    size: int
    stream: DecryptedFile
    made_on: datetime.date
    content_type: str = CONTENT_TYPE

    @property
    def filename(self) -> str:
        return f"my-information-{self.made_on.isoformat()}.zip"


def open_download(*, actor: PatientActor, export_id, request=None, storage: EncryptedStorage | None = None) -> Download:
    """The ready export's decrypting stream. NotFound unless it is an export of the actor's current
    record (the door re-reads the account's link: their own record or a representative's);
    ExportExpired past DOWNLOAD_DAYS. The opening and `rights:export:downloaded` are on record
    before a byte is read."""
    export = get_export(actor=actor, export_id=export_id)
    if export.status not in (ExportStatus.READY, ExportStatus.EXPIRED):
        raise NotFound("export")
    if is_expired(export) or not export.stored_name:
        raise ExportExpired()
    storage = storage or EncryptedStorage()
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={STORED_CATEGORY}, request=request) as chart:
        stream = storage.open_decrypted(export.stored_name, practice_id=export.practice_id, subject_id=chart.patient.pk,
                                        category=STORED_CATEGORY)  # fmt: skip
        try:
            now = timezone.now()
            Export.objects.filter(pk=export.pk, downloaded_at__isnull=True).update(downloaded_at=now, updated_at=now)
            record(
                AuditEvent.RIGHTS_EXPORT_DOWNLOADED, practice_id=export.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
                subject_id=export.patient_id, resource_ids=[export.request_id, export.pk], categories={STORED_CATEGORY}, request=request,
            )  # fmt: skip
        except BaseException:
            stream.close()
            raise
    return Download(id=export.pk, size=stream.size, stream=stream, made_on=timezone.localdate(export.finished_at or export.created_at))


# --- the clean-up ------------------------------------------------------------------------------------------
CLEANUP_JOB = "rights-export-cleanup"


def delete_expired_exports(*, storage: EncryptedStorage | None = None, now: datetime.datetime | None = None) -> int:
    """Delete the sealed files of every practice's copies past their link's time; the rows stay
    (status expired: the record that a copy was made, when and what it held). Returns how many."""
    from confide.core.models import Practice

    storage = storage or EncryptedStorage()
    now = now or timezone.now()
    deleted = 0
    for practice_id in Practice.objects.order_by("slug").values_list("id", flat=True):
        with tenant_context(practice_id=practice_id):
            for export in Export.objects.filter(status=ExportStatus.READY, expires_at__lte=now).exclude(stored_name=""):
                with transaction.atomic():
                    if not Export.objects.filter(pk=export.pk, status=ExportStatus.READY, stored_name=export.stored_name).update(
                        status=ExportStatus.EXPIRED, stored_name="", updated_at=now
                    ):
                        continue  # another clean-up got there first
                    record(
                        AuditEvent.RIGHTS_EXPORT_DELETED, practice_id=practice_id, actor=system_actor(CLEANUP_JOB),
                        subject_id=export.patient_id, resource_ids=[export.request_id, export.pk],
                    )  # fmt: skip
                storage.delete(export.stored_name)
                deleted += 1
    return deleted


def _schedule_cleanup(when: datetime.datetime) -> None:
    from confide.rights.tasks import delete_expired_rights_exports

    if delete_expired_rights_exports.get_backend().supports_defer:
        delete_expired_rights_exports.using(run_after=when + datetime.timedelta(minutes=1)).enqueue()


# --- the fee (RTS10) ------------------------------------------------------------------------------------
def copy_fee_cents(practice_id) -> int:
    """The practice's flat fee for an electronic copy, in cents (0: none)."""
    with tenant_context(practice_id=practice_id):
        return RightsSettings.objects.filter(practice_id=practice_id).values_list("copy_fee_cents", flat=True).first() or 0


def parse_fee(value) -> int:
    """'4.50' or '4' (dollars) -> cents; refuses anything else, negative, or above the cap."""
    text = str(value if value is not None else "").strip().lstrip("$")
    try:
        dollars, _, cents = text.partition(".")
        if not dollars.isdigit() and dollars != "" or (cents and (not cents.isdigit() or len(cents) > 2)) or not (dollars or cents):
            raise ValueError
        amount = int(dollars or 0) * 100 + int((cents + "00")[:2] if cents else 0)
    except ValueError:
        raise InvalidInput("Enter the fee in dollars, for example 6.50, or 0 for no fee.") from None
    return check_fee(amount)


def check_fee(cents: int) -> int:
    if not isinstance(cents, int) or cents < 0:
        raise InvalidInput("The fee cannot be negative.")
    if cents > COPY_FEE_CAP_CENTS:
        raise InvalidInput(f"A flat fee for an electronic copy may not be more than ${COPY_FEE_CAP_CENTS / 100:.2f}.")
    return cents


def set_copy_fee(*, actor: StaffActor, cents: int, request=None) -> int:
    """The owner or privacy officer sets the fee (validated, audited)."""
    if not isinstance(actor, StaffActor) or actor.role not in (Role.OWNER, Role.PRIVACY_OFFICER):
        raise Forbidden("the copy fee is set by the owner or the privacy officer")
    cents = check_fee(cents)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        RightsSettings.objects.update_or_create(practice_id=actor.practice_id, defaults={"copy_fee_cents": cents})
        record(AuditEvent.RIGHTS_FEE_SET, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
               detail={"copy_fee_cents": cents}, request=request)  # fmt: skip
    return cents


def digest(path) -> str:  # used by the bench and tests to compare outputs
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


# --- staff: the request page's panel ---------------------------------------------------------------------
def _staff(actor) -> StaffActor:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.RIGHTS_QUEUE_VIEW):
        raise Forbidden(Perm.RIGHTS_QUEUE_VIEW)
    return actor


def set_psychotherapy_authorization(*, actor: StaffActor, request_id, expected_version: int, authorized: bool, request=None) -> RightsRequest:
    """Staff record (or take back) the patient's specific authorization to include psychotherapy
    notes in the copy (HIPAA §164.508(a)(2)): a conditional update on the request's version
    (a stale page gets ChangedMeanwhile, 409), while it is open and before the copy is made."""
    from confide.rights.services import transition

    _staff(actor)
    with tenant_context(practice_id=actor.practice_id):
        row = RightsRequest.objects.filter(pk=request_id).first()
        if row is None:
            raise NotFound("rights request")
        if row.kind not in EXPORT_KINDS:
            raise InvalidInput("Only a request to see or copy the record can include psychotherapy notes.")
        if Export.objects.filter(request_id=row.pk, status__in=[ExportStatus.RUNNING, ExportStatus.READY]).exists():
            raise InvalidInput("The copy is already being made or is ready; the authorization can no longer change it.")
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        changed = transition(practice_id=actor.practice_id, request_id=row.pk, expected_version=expected_version,
                             allowed_from=OPEN_STATUSES, psychotherapy_authorized=bool(authorized))  # fmt: skip
        record(
            AuditEvent.RIGHTS_PSYCHOTHERAPY_AUTHORIZATION, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=row.patient_id, resource_ids=[row.pk], detail={"authorized": bool(authorized)}, request=request,
        )  # fmt: skip
    return changed


def get_export_for_staff(*, actor: StaffActor, export_id) -> Export:
    _staff(actor)
    try:
        pk = uuid.UUID(str(export_id))
    except ValueError:
        raise NotFound("export") from None
    with tenant_context(practice_id=actor.practice_id):
        export = Export.objects.filter(pk=pk).first()
    if export is None:
        raise NotFound("export")
    return export


def latest_for_request(request_row: RightsRequest) -> Export | None:
    with tenant_context(practice_id=request_row.practice_id):
        return Export.objects.filter(request_id=request_row.pk).order_by("-created_at").first()
