"""The retention engine (RET1, RET2): one scheduled job applying the declaration's periods.

    run(now=None, dry_run=False, practice_id=None)          -> list[RunReport] (one per practice)
    next_run(practice_id, now=None)                         -> RunReport (what a run would do; changes nothing)
    do_close_account(actor=StaffActor, patient_id=…)        the practice closes an account
    do_set_hold(actor=…, patient_id=…, reason=…)            -> LegalHold
    do_release_hold(actor=…, hold_id=…)                     -> LegalHold
    get_schedule(actor=…)                                   the dry-run view's contents (audited)

**Active accounts are kept while active (RET1).** The engine never touches a patient without an
`ArchivedRecord`: an account is *closed* only when the practice closes it (`do_close_account`,
e.g. after it learns the patient moved away) or when a deletion request is executed
(retention/deletion.py, archived at once). Inactivity alone closes nothing: a patient seen
once every few years is still a patient.

**A run**, per practice: every closed account not yet archived is archived (out of the active
database, `retain_until` = the medical-records period from the last service, from the 18th
birthday for a minor: retention/plan.py); every archived record whose `retain_until` has passed
(the day after it) is destroyed unless a legal hold is open (then it is *held*): its subject key
shredded (every copy unreadable, backups included), its rows deleted, its blind-index entries
gone; the `ArchivedRecord` stays with ids and dates only. The audit log is kept (ids only). One
`retention:run:completed` entry per practice and run names what was archived, held and
destroyed (counts and ids). A run twice the same day does nothing the second time (each record
is archived once and destroyed once: the row is locked and re-checked).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass, field

from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.models import Practice
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.retention.deletion import APPEND_ONLY, _purge, archive_record, as_uuid
from confide.vault.fields import encrypted_fields
from confide.retention.models import ArchivedRecord, ArchiveReason, HoldReason, LegalHold
from confide.retention.plan import DeletionPlan, last_service_on, read_born, retain_until, retention_rule

logger = logging.getLogger(__name__)
ACTOR = "retention-job"


@dataclass
class RunReport:
    practice_id: uuid.UUID
    today: datetime.date
    dry_run: bool
    archived: list[uuid.UUID] = field(default_factory=list)  # patient ids
    held: list[uuid.UUID] = field(default_factory=list)
    destroyed: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)  # tried again by the next run

    def counts(self) -> dict:
        return {"archived": len(self.archived), "held": len(self.held), "destroyed": len(self.destroyed), "failed": len(self.failed)}


def _today(now: datetime.datetime | None) -> datetime.date:
    return timezone.localdate(now or timezone.now())


def _held_ids() -> set:
    return {str(pk) for pk in LegalHold.objects.filter(released_at__isnull=True).values_list("patient_id", flat=True)}


def next_run(practice_id, now=None) -> RunReport:
    """What a run would do now in this practice (the dry run): changes nothing, reads ids and dates."""
    today = _today(now)
    report = RunReport(practice_id=uuid.UUID(str(practice_id)), today=today, dry_run=True)
    with tenant_context(practice_id=practice_id):
        held = _held_ids()
        report.archived = list(ArchivedRecord.objects.filter(archived_at__isnull=True, destroyed_at__isnull=True).values_list("patient_id", flat=True))
        for row in ArchivedRecord.objects.filter(archived_at__isnull=False, destroyed_at__isnull=True, retain_until__lt=today):
            (report.held if str(row.patient_id) in held else report.destroyed).append(row.patient_id)
    return report


def run(*, now=None, dry_run: bool = False, practice_id=None) -> list[RunReport]:
    """Run the schedule in every practice (or one); `dry_run`: report what would happen."""
    ids = [practice_id] if practice_id else list(Practice.objects.order_by("pk").values_list("pk", flat=True))
    reports = []
    for pid in ids:
        planned = next_run(pid, now)
        if dry_run:
            reports.append(planned)
            continue
        report = RunReport(practice_id=planned.practice_id, today=planned.today, dry_run=False)
        for patient_id in planned.archived:
            if _archive_closed(pid, patient_id):
                report.archived.append(patient_id)
        for patient_id in planned.destroyed + planned.held:
            try:
                outcome = destroy(pid, patient_id, today=planned.today)
            except Exception:  # one record's failure (rolled back whole) does not stop the others
                logger.exception("retention: destroying record %s failed; the next run tries again", patient_id)
                report.failed.append(patient_id)
                continue
            if outcome == "destroyed":
                report.destroyed.append(patient_id)
            elif outcome == "held":
                report.held.append(patient_id)
        with tenant_context(practice_id=pid), transaction.atomic():
            record(
                AuditEvent.RETENTION_RUN, practice_id=pid, actor=system_actor(ACTOR), purpose=Purpose.LEGAL.value,
                resource_ids=[*report.archived, *report.held, *report.destroyed],
                detail={**report.counts(), "archived_ids": [str(i) for i in report.archived], "held_ids": [str(i) for i in report.held],
                        "destroyed_ids": [str(i) for i in report.destroyed], "today": planned.today.isoformat()},
            )  # fmt: skip
        reports.append(report)
    return reports


def _plan_for_archive(practice_id, patient_id) -> DeletionPlan:
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(practice_id, timezone.now())
    born = read_born(practice_id, patient_id, Purpose.LEGAL)
    with tenant_context(practice_id=practice_id):
        last = last_service_on(patient_id) or timezone.localdate()
    until, from_majority = retain_until(declaration, last, born)
    rule, _ = retention_rule(declaration)
    return DeletionPlan(patient_id=patient_id, last_service_on=last, retain_until=until, rule=rule, from_majority=from_majority)


def _archive_closed(practice_id, patient_id) -> bool:
    plan = _plan_for_archive(practice_id, patient_id)
    with tenant_context(practice_id=practice_id), transaction.atomic():
        row = ArchivedRecord.objects.select_for_update().filter(patient_id=patient_id, archived_at__isnull=True).first()
        if row is None:  # archived meanwhile
            return False
        archive_record(practice_id=practice_id, patient_id=patient_id, reason=row.reason, plan=plan, closed_at=row.closed_at)
    return True


# Rows that refer to a patient by id (no foreign key) and go with the record.
_BY_ID = (("vault.BlindIndexEntry", "subject_id"),)


def destroy(practice_id, patient_id, *, today: datetime.date) -> str:
    """Destroy one archived record whose period ended: "destroyed", "held" (a hold is open),
    or "skipped" (destroyed meanwhile, or not yet due)."""
    from confide.vault import keys

    Patient = apps.get_model("records.Patient")
    with tenant_context(practice_id=practice_id), transaction.atomic():
        row = ArchivedRecord.objects.select_for_update().filter(patient_id=patient_id, destroyed_at__isnull=True).first()
        if row is None or row.archived_at is None or row.retain_until is None or row.retain_until >= today:
            return "skipped"
        if LegalHold.objects.filter(patient_id=patient_id, released_at__isnull=True).exists():
            return "held"
        destroyed_keys = keys.shred_subject(practice_id, patient_id)
        counts = {}
        for model in apps.get_models():
            if model._meta.label in APPEND_ONLY:
                continue
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model is Patient and model is not Patient:
                    n = _purge(model, model._base_manager.filter(practice_id=practice_id, **{f.name: patient_id}))
                    if n:
                        counts[model._meta.label_lower] = counts.get(model._meta.label_lower, 0) + n
        for label, column in _BY_ID:
            model = apps.get_model(label)
            model._base_manager.filter(practice_id=practice_id, **{column: patient_id}).delete()
        ledger = any(apps.get_model(label)._base_manager.filter(practice_id=practice_id, patient_id=patient_id).exists() for label in APPEND_ONLY)
        if ledger:
            # The append-only consent ledger still names the patient's id: the row stays, every
            # sealed column emptied (and unreadable anyway: the key is gone).
            sealed = {f.attname: None for f in encrypted_fields(Patient) if f.null}
            Patient._base_manager.filter(practice_id=practice_id, pk=patient_id).update(is_active=False, **sealed)
            counts["records.patient"] = 0
        else:
            counts["records.patient"] = _purge(Patient, Patient._base_manager.filter(practice_id=practice_id, pk=patient_id))
        row.destroyed_at = timezone.now()
        row.save(update_fields=["destroyed_at", "updated_at"])
        record(
            AuditEvent.RECORD_DESTROYED, practice_id=practice_id, actor=system_actor(ACTOR), purpose=Purpose.LEGAL.value,
            subject_id=patient_id, resource_ids=[row.pk], detail={"key_versions_destroyed": destroyed_keys, "rows": counts},
        )  # fmt: skip
    logger.info("retention: record %s destroyed at the end of its period", row.pk)
    return "destroyed"


# --- staff actions -----------------------------------------------------------------------------------
def _require(actor, perm: Perm) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(perm):
        raise Forbidden(perm)


def _patient_in_practice(patient_id) -> uuid.UUID:
    pk = as_uuid(patient_id)
    if pk is None or not apps.get_model("records.Patient").objects.filter(pk=pk).exists():
        raise NotFound("patient")
    return pk


def do_close_account(*, actor: StaffActor, patient_id, request=None) -> ArchivedRecord:
    """The practice closes the account: the next run archives it (RET2). Idempotent."""
    _require(actor, Perm.DELETION_EXECUTE)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        pk = _patient_in_practice(patient_id)
        row, created = ArchivedRecord.objects.get_or_create(
            practice_id=actor.practice_id, patient_id=pk, defaults={"reason": ArchiveReason.CLOSED, "closed_at": timezone.now()}
        )
        if created:
            record(AuditEvent.RECORD_CLOSED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
                   subject_id=pk, resource_ids=[row.pk], request=request)  # fmt: skip
    return row


def parse_reason(value) -> HoldReason:
    try:
        return HoldReason(str(value))
    except ValueError:
        raise InvalidInput("Choose why the record must be kept.") from None


def do_set_hold(*, actor: StaffActor, patient_id, reason, request=None) -> LegalHold:
    """Put a record on legal hold (a fixed reason): deletion and destruction wait until it is
    released. A second hold on a record already held is refused (one open hold per record)."""
    _require(actor, Perm.LEGAL_HOLD_SET)
    checked = parse_reason(reason)
    with tenant_context(practice_id=actor.practice_id):
        try:
            with transaction.atomic():
                pk = as_uuid(patient_id)
                archived = pk is not None and ArchivedRecord.objects.filter(patient_id=pk, destroyed_at__isnull=True).exists()
                if not archived:
                    pk = _patient_in_practice(patient_id)
                hold = LegalHold.objects.create(practice_id=actor.practice_id, patient_id=pk, reason=checked, set_by_id=actor.user_id, set_at=timezone.now())
                record(AuditEvent.LEGAL_HOLD_SET, practice_id=actor.practice_id, actor=actor, purpose=Purpose.LEGAL.value, subject_id=pk,
                       resource_ids=[hold.pk], detail={"reason": checked.value}, request=request)  # fmt: skip
        except IntegrityError:
            raise InvalidInput("This record is already on legal hold.") from None
    return hold


def do_release_hold(*, actor: StaffActor, hold_id, request=None) -> LegalHold:
    _require(actor, Perm.LEGAL_HOLD_SET)
    pk = as_uuid(hold_id)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        hold = LegalHold.objects.filter(pk=pk).first() if pk else None
        if hold is None:
            raise NotFound("legal hold")
        now = timezone.now()
        if LegalHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(released_at=now, released_by_id=actor.user_id, updated_at=now) != 1:
            raise InvalidInput("This hold was already released.")
        record(AuditEvent.LEGAL_HOLD_RELEASED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.LEGAL.value,
               subject_id=hold.patient_id, resource_ids=[hold.pk], request=request)  # fmt: skip
        hold.refresh_from_db()
    return hold


# --- the dry-run view ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleRow:
    patient_id: uuid.UUID
    reference: str  # a short reference (the record is out of the active database: no name is opened)
    reason_label: str
    closed_at: datetime.datetime
    archived_at: datetime.datetime | None
    retain_until: datetime.date | None
    from_majority: bool
    hold: LegalHold | None
    next_run: str  # "archive", "destroy", "held", ""


@dataclass
class Schedule:
    today: datetime.date
    rows: list[ScheduleRow]
    report: RunReport
    destroyed: int
    reasons: list


def reference(patient_id) -> str:
    return "R-" + str(patient_id).replace("-", "")[:8].upper()


def get_schedule(*, actor: StaffActor, request=None) -> Schedule:
    """What the next run will do and every archived record with its date and hold (ids and
    dates: no PHI is read). One `retention:plan:viewed` entry."""
    _require(actor, Perm.RETENTION_VIEW)
    report = next_run(actor.practice_id)
    due = {str(i): "destroy" for i in report.destroyed} | {str(i): "held" for i in report.held} | {str(i): "archive" for i in report.archived}
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        holds = {str(h.patient_id): h for h in LegalHold.objects.filter(released_at__isnull=True)}
        rows = [
            ScheduleRow(
                patient_id=r.patient_id, reference=reference(r.patient_id), reason_label=ArchiveReason(r.reason).label, closed_at=r.closed_at,
                archived_at=r.archived_at, retain_until=r.retain_until, from_majority=r.from_majority, hold=holds.get(str(r.patient_id)),
                next_run=due.get(str(r.patient_id), ""),
            )  # fmt: skip
            for r in ArchivedRecord.objects.filter(destroyed_at__isnull=True).order_by("retain_until", "closed_at")
        ]
        destroyed = ArchivedRecord.objects.filter(destroyed_at__isnull=False).count()
        record(AuditEvent.RETENTION_VIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.LEGAL.value,
               detail=report.counts(), request=request)  # fmt: skip
    return Schedule(today=report.today, rows=rows, report=report, destroyed=destroyed, reasons=HoldReason.choices)
