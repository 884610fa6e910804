"""A deletion request (RTS4, MIN3), from the privacy officer's side: its plan and its execution.

    get_deletion_page(actor=StaffActor, request_id=…)                        -> DeletionPage (plan + run)
    check_execute_deletion(actor=StaffActor, request_id=…, expected_version=…)  -> DeletionRun

The plan and the steps are the retention package's (retention/plan.py, retention/deletion.py);
this module ties them to the request: only a verified `delete` request with a patient, still
open, is executed; a legal hold refuses it (a `retention:deletion:refused` entry, nothing
changed); the request moves to in progress by a conditional update on its version (of two
officers pressing at once, one goes on, the other is told it changed meanwhile), the run is
claimed once, and the background task (`execute_deletion`) does the steps, then closes the
request — done, or partly done when records are kept by law or were already disclosed — with
the letter `rights/letters/deletion_outcome.txt` explaining what was erased, what is kept until
when and why, and what could not be reached. A deletion a parent or guardian asked for (MIN3:
`by_representative`) is executed the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.retention import deletion as steps
from confide.retention.models import DeletionRun
from confide.retention.plan import DeletionPlan, compute_plan
from confide.rights.models import OPEN_STATUSES, RequestKind, RequestStatus, RightsRequest, Verification
from confide.rights.services import ChangedMeanwhile, transition

logger = logging.getLogger(__name__)
LETTER = "rights/letters/deletion_outcome.txt"


@dataclass
class DeletionPage:
    req: RightsRequest
    plan: DeletionPlan | None
    run: DeletionRun | None
    problem: str = ""

    @property
    def progress(self) -> tuple[int, int]:
        return steps.progress(self.run) if self.run else (0, len(steps.STEPS))


def _load(actor, request_id) -> RightsRequest:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.DELETION_EXECUTE):
        raise Forbidden(Perm.DELETION_EXECUTE)
    pk = steps.as_uuid(request_id)
    with tenant_context(practice_id=actor.practice_id):
        row = RightsRequest.objects.filter(pk=pk, kind=RequestKind.DELETE).first() if pk else None
    if row is None:
        raise NotFound("rights request")
    return row


def _problem(row: RightsRequest) -> str:
    if row.patient_id is None or row.verification in (Verification.PENDING, Verification.FAILED):
        return "The requester has not been verified yet: a deletion is planned only for a verified request."
    return ""


def get_deletion_page(*, actor: StaffActor, request_id, request=None) -> DeletionPage:
    row = _load(actor, request_id)
    with tenant_context(practice_id=actor.practice_id):
        run = DeletionRun.objects.filter(request_id=row.pk).first()
    problem = _problem(row)
    plan = None
    if not problem and (run is None or "archive" not in run.steps_done):
        plan = compute_plan(practice_id=actor.practice_id, patient_id=row.patient_id, request=request)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        record(AuditEvent.DELETION_PLAN_VIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
               subject_id=row.patient_id, resource_ids=[row.pk], request=request)  # fmt: skip
    return DeletionPage(req=row, plan=plan, run=run, problem=problem)


def _refuse(actor, row, code: str, request) -> None:
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        record(AuditEvent.DELETION_REFUSED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
               subject_id=row.patient_id, resource_ids=[row.pk], detail={"code": code}, request=request)  # fmt: skip


def check_execute_deletion(*, actor: StaffActor, request_id, expected_version, request=None) -> DeletionRun:
    """Validate, then start the deletion (see the module docstring). Raises InvalidInput (a
    clear message; ChangedMeanwhile for a stale page) and changes nothing when refused."""
    row = _load(actor, request_id)
    try:
        version = int(expected_version)
    except (TypeError, ValueError):
        raise InvalidInput("This form is out of date. Reload the page and try again.") from None
    problem = _problem(row)
    if problem:
        _refuse(actor, row, "not-verified", request)
        raise InvalidInput(problem)
    if row.status not in OPEN_STATUSES:
        raise InvalidInput("This request is already closed.")
    with tenant_context(practice_id=actor.practice_id):
        if steps.has_open_hold(row.patient_id):
            _refuse(actor, row, "legal-hold", request)
            raise steps.HeldByLaw("This record is on legal hold: it cannot be deleted until the hold is released. Nothing was changed.")
    with transaction.atomic():
        transition(practice_id=actor.practice_id, request_id=row.pk, expected_version=version, allowed_from=OPEN_STATUSES,
                   status=RequestStatus.IN_PROGRESS, updated_at=timezone.now())  # fmt: skip
        run = steps.start_deletion(practice_id=actor.practice_id, request_id=row.pk, patient_id=row.patient_id, actor=actor, request=request)
        practice_id, run_id = str(actor.practice_id), str(run.pk)
        transaction.on_commit(lambda: execute_deletion.enqueue(practice_id, run_id))
    logger.info("deletion run %s started for request %s", run.pk, row.pk)
    return run


@task()
def execute_deletion(practice_id: str, run_id: str) -> dict:
    """The background work: the steps, then the request closed with its letter."""
    run = steps.run_deletion(practice_id=practice_id, run_id=run_id)
    close_request(run)
    return {"steps": len(run.steps_done)}


def close_request(run: DeletionRun) -> RightsRequest | None:
    """Close the request after its run: partly done (records kept by law, or beyond reach) or
    done, with the outcome letter. Once: a request already closed is left as it is."""
    from confide.rights.letters import keep_letter

    with tenant_context(practice_id=run.practice_id):
        row = RightsRequest.objects.filter(pk=run.request_id).first()
    if row is None or row.status not in OPEN_STATUSES:
        return row
    plan = compute_plan(practice_id=run.practice_id, patient_id=run.patient_id)
    status = RequestStatus.PARTLY_DONE if plan.partial else RequestStatus.DONE
    context = {
        "erased": [g for g in plan.erase], "archived": plan.archive, "retain_until": plan.retain_until,
        "from_majority": plan.from_majority, "unreachable": plan.unreachable, "partial": plan.partial, "counts": run.counts,
        "by_representative": row.by_representative,
    }  # fmt: skip
    try:
        with transaction.atomic():
            closed = transition(practice_id=run.practice_id, request_id=row.pk, expected_version=row.version, allowed_from=OPEN_STATUSES,
                                status=status, decided_at=timezone.now(), decided_by_id=run.started_by_id)  # fmt: skip
            keep_letter(practice_id=run.practice_id, request_row=closed, kind="fulfilment",
                        template=LETTER, context=context, stored_context_keys=("retain_until", "partial", "from_majority"))  # fmt: skip
    except ChangedMeanwhile:
        return None  # closed by someone else meanwhile
    return closed
