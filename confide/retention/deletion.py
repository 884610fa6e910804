"""A deletion's execution (RTS4): resumable steps, each audited, run once however often started.

    start_deletion(practice_id=…, request_id=…, patient_id=…, actor=StaffActor)  -> DeletionRun
    run_deletion(practice_id=…, run_id=…)                                         -> DeletionRun
    progress(run)                                                                 -> (done, total)

`start_deletion` claims the request's one run (a unique row per request): a second start while
it runs, or after it finished, is refused (`AlreadyStarted`); a run stopped by an error
(`failed`) is claimed again by a conditional update, so exactly one of two racing restarts goes
on. A legal hold refuses the start (`HeldByLaw`): nothing is changed.

`run_deletion` does the steps not yet done, in order, each in one transaction with its
`retention:deletion:step` entry (counts only) and its name appended to the run: a failure
mid-way leaves every step either done and recorded or not begun, and a re-run finishes.

1. `portal`: end every open portal link to the record (reason `deletion`), deactivate the
   patient's own portal accounts that have no other open link, and end their sessions;
2. `erase`: delete what no retention rule keeps (retention/plan.py ERASABLE): notification
   preferences, marketing lists, message threads (with their deliveries, outbox entries and
   attachments), pending booking requests and waiting-list places; cancel appointments not yet
   held;
3. `archive`: take the record out of the active database (`Patient.is_active` false, not in any
   list or search; the door opens it only for `legal`/`patient_request`) and write its
   `ArchivedRecord` with the date retention ends. Anonymous aggregates (the counts in the run
   and the audit log) stay.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.retention.models import ArchivedRecord, ArchiveReason, DeletionRun, LegalHold, RunState
from confide.retention.plan import compute_plan, kept_by

logger = logging.getLogger(__name__)

STEPS = ("portal", "erase", "archive")
# A run whose process died mid-step (no failure recorded) may be claimed again after this long.
STALE_AFTER = datetime.timedelta(minutes=15)
ENDED_REASON = "deletion"
# Tables the database keeps append-only (triggers refuse every DELETE): the consent ledger (CON2).
# A destroyed patient's rows there stay, their evidence unreadable with the key.
APPEND_ONLY = frozenset({"consent.ConsentEvent", "consent.ConsentEvidence"})


class HeldByLaw(InvalidInput):
    """A legal hold is set on the record: a deletion is refused and nothing changes."""


class AlreadyStarted(InvalidInput):
    """This request's deletion is running or done: the second start changes nothing."""


def progress(run: DeletionRun) -> tuple[int, int]:
    return len(run.steps_done), len(STEPS)


def has_open_hold(patient_id) -> bool:
    return LegalHold.objects.filter(patient_id=patient_id, released_at__isnull=True).exists()


def start_deletion(*, practice_id, request_id, patient_id, actor, request=None) -> DeletionRun:
    """Claim the request's deletion run (see the module docstring)."""
    now = timezone.now()
    with tenant_context(practice_id=practice_id), transaction.atomic():
        if has_open_hold(patient_id):
            raise HeldByLaw("This record is on legal hold: it cannot be deleted until the hold is released. Nothing was changed.")
        try:
            with transaction.atomic():
                run = DeletionRun.objects.create(
                    practice_id=practice_id, request_id=request_id, patient_id=patient_id, started_by_id=actor.user_id, started_at=now
                )
        except IntegrityError:
            run = DeletionRun.objects.filter(request_id=request_id).first()
            if run is None:  # pragma: no cover - the unique row cannot vanish
                raise AlreadyStarted("This deletion was started meanwhile.") from None
            stale = now - STALE_AFTER
            claimed = DeletionRun.objects.filter(pk=run.pk, state=RunState.FAILED).update(
                state=RunState.RUNNING, attempts=F("attempts") + 1, updated_at=now
            ) or DeletionRun.objects.filter(pk=run.pk, state=RunState.RUNNING, updated_at__lt=stale).update(
                attempts=F("attempts") + 1, updated_at=now
            )  # fmt: skip
            if not claimed:
                done = run.state == RunState.DONE
                raise AlreadyStarted("This deletion is already done." if done else "This deletion is already running.") from None
            run.refresh_from_db()
        record(
            AuditEvent.DELETION_STARTED, practice_id=practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=patient_id, resource_ids=[request_id, run.pk], detail={"attempt": run.attempts}, request=request,
        )  # fmt: skip
    return run


def run_deletion(*, practice_id, run_id) -> DeletionRun:
    """Do the steps not yet done (see the module docstring). An error marks the run failed (it
    can be started again) and is raised."""
    practice_id = uuid.UUID(str(practice_id))
    with tenant_context(practice_id=practice_id):
        run = DeletionRun.objects.get(pk=run_id)
        try:
            for step in STEPS:
                if step in run.steps_done:
                    continue
                _do_step(run, step)
            now = timezone.now()
            DeletionRun.objects.filter(pk=run.pk).update(state=RunState.DONE, finished_at=now, updated_at=now)
        except Exception:
            DeletionRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(state=RunState.FAILED, updated_at=timezone.now())
            logger.warning("deletion run %s stopped at a step; it can be run again", run.pk)
            raise
        run.refresh_from_db()
        return run


def _before_step(run: DeletionRun, step: str) -> None:
    """A seam for tests (a failure mid-way); nothing in production."""


def _do_step(run: DeletionRun, step: str) -> None:
    plan = compute_plan(practice_id=run.practice_id, patient_id=run.patient_id) if step == "archive" else None
    with transaction.atomic():
        locked = DeletionRun.objects.select_for_update().get(pk=run.pk)
        if step in locked.steps_done:  # another worker did it meanwhile
            run.steps_done = locked.steps_done
            return
        _before_step(run, step)
        counts = {"portal": _revoke_portal, "erase": _erase, "archive": lambda r: _archive(r, plan)}[step](run)
        locked.steps_done = [*locked.steps_done, step]
        locked.counts = {**locked.counts, step: counts}
        locked.save(update_fields=["steps_done", "counts", "updated_at"])
        record(
            AuditEvent.DELETION_STEP, practice_id=run.practice_id, actor=_job_actor(), purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=run.patient_id, resource_ids=[run.request_id, run.pk], detail={"step": step, "counts": counts},
        )  # fmt: skip
    run.steps_done, run.counts = locked.steps_done, locked.counts


def _job_actor():
    from confide.audit.chain import system_actor

    return system_actor("retention-job")


# --- the steps ------------------------------------------------------------------------------------
def _revoke_portal(run: DeletionRun) -> dict:
    from django.contrib.auth import get_user_model

    from confide.accounts.models import PortalLink
    from confide.accounts.staff import end_sessions_in_practice

    now = timezone.now()
    links = list(PortalLink.objects.filter(patient_id=run.patient_id, is_active=True))
    PortalLink.objects.filter(pk__in=[link.pk for link in links]).update(is_active=False, ended_at=now, ended_reason=ENDED_REASON, updated_at=now)
    User = get_user_model()
    deactivated = sessions = 0
    for user_id in sorted({link.user_id for link in links}):
        # A guardian's account may hold other children's links: only its sessions here end.
        with tenant_context(practice_id=None, user_id=user_id):
            others = PortalLink.across_practices.filter(user_id=user_id, is_active=True).exists()
        if not others:
            deactivated += User.objects.filter(pk=user_id, is_active=True).update(is_active=False)
        sessions += end_sessions_in_practice(user_id, run.practice_id)
    return {"links_ended": len(links), "accounts_deactivated": deactivated, "sessions_ended": sessions}


def _purge(model, rows, depth: int = 0) -> int:
    """Delete `rows` and whatever rows depend on them (a nullable reference is cleared).
    Returns how many rows of `model` were deleted."""
    pks = list(rows.values_list("pk", flat=True))
    if not pks:
        return 0
    if depth > 6:  # pragma: no cover - the schema is not that deep; a cycle would be a bug
        raise RuntimeError(f"dependencies of {model._meta.label} too deep to purge")
    for rel in model._meta.related_objects:
        if not getattr(rel.field, "concrete", False) or rel.related_model._meta.label in APPEND_ONLY:
            continue  # the append-only ledger is never deleted from (the database refuses it)
        dependent = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": pks})
        if rel.related_model is model:
            dependent = dependent.exclude(pk__in=pks)
        if rel.field.null:
            dependent.update(**{rel.field.name: None})
        elif rel.related_model is not model:
            _purge(rel.related_model, dependent, depth + 1)
    for field in model._meta.concrete_fields:  # a row referring to another row being deleted
        if field.is_relation and field.related_model is model and field.null:
            model._base_manager.filter(pk__in=pks).update(**{field.name: None})
    model._base_manager.filter(pk__in=pks).delete()
    return len(pks)


def _erase(run: DeletionRun) -> dict:
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(run.practice_id, timezone.now())
    pk = run.patient_id
    model = apps.get_model
    counts = {}
    if not kept_by(declaration, "preferences.notifications"):
        counts["notifications"] = _purge(model("messaging.NotificationPreference"), model("messaging.NotificationPreference").objects.filter(patient_id=pk))
    if not kept_by(declaration, "preferences.marketing"):
        counts["marketing"] = _purge(model("messaging.CampaignRecipient"), model("messaging.CampaignRecipient").objects.filter(patient_id=pk))
    if not kept_by(declaration, "communications.messages"):
        for label in ("messaging.OutboxEntry", "messaging.UnmatchedInbound", "messaging.Attachment"):
            _purge(model(label), model(label).objects.filter(patient_id=pk))
        counts["messages"] = _purge(model("messaging.Message"), model("messaging.Message").objects.filter(patient_id=pk))
        _purge(model("messaging.Thread"), model("messaging.Thread").objects.filter(patient_id=pk))
    counts["bookings"] = _purge(model("directory.BookingRequest"), model("directory.BookingRequest").objects.filter(patient_id=pk, status="pending"))
    counts["waitlist"] = _purge(model("scheduling.WaitlistEntry"), model("scheduling.WaitlistEntry").objects.filter(patient_id=pk))
    counts["future_cancelled"] = model("scheduling.Appointment").objects.filter(
        patient_id=pk, starts_at__gt=timezone.now(), status__in=["requested", "booked", "confirmed"]
    ).update(status="cancelled", updated_at=timezone.now())
    return counts


def archive_record(*, practice_id, patient_id, reason, plan, request_id=None, closed_at=None) -> ArchivedRecord:
    """Take the record out of the active database and write (or complete) its ArchivedRecord.
    Inside the caller's transaction and practice context."""
    Patient = apps.get_model("records.Patient")
    now = timezone.now()
    Patient.objects.filter(pk=patient_id).update(is_active=False, updated_at=now)
    # Out of every search too: the blind-index entries go (the archive is reached by its
    # request or its reference, never by typing a name).
    apps.get_model("vault.BlindIndexEntry").objects.filter(subject_id=patient_id).delete()
    fields = dict(
        reason=reason, archived_at=now, last_service_on=plan.last_service_on, retain_until=plan.retain_until, rule=plan.rule,
        from_majority=plan.from_majority, request_id=request_id,
    )  # fmt: skip
    archived, created = ArchivedRecord.objects.get_or_create(practice_id=practice_id, patient_id=patient_id, defaults={**fields, "closed_at": closed_at or now})
    if not created:
        for name, value in fields.items():
            if name != "request_id" or value is not None:
                setattr(archived, name, value)
        archived.save()
    record(
        AuditEvent.RECORD_ARCHIVED, practice_id=practice_id, actor=_job_actor(), purpose=Purpose.LEGAL.value, subject_id=patient_id,
        resource_ids=[archived.pk], detail={"reason": reason, "retain_until": plan.retain_until.isoformat(), "from_majority": plan.from_majority},
    )  # fmt: skip
    return archived


def _archive(run: DeletionRun, plan) -> dict:
    archived = archive_record(
        practice_id=run.practice_id, patient_id=run.patient_id, reason=ArchiveReason.DELETION, plan=plan, request_id=run.request_id
    )  # fmt: skip
    return {"retain_until": archived.retain_until.isoformat()}


def as_uuid(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
