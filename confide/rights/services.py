"""Rights requests: opening one (a patient in the portal), listing a patient's own, and the
privacy officer's queue.

    check_open_request(actor=PatientActor, kind=…, detail=…)   validates, then opens the request
    list_patient_requests(actor=PatientActor)                  the record's requests, newest first
    list_open_requests(actor=StaffActor)                       the queue: open requests by due date
    due_on(declaration, kind, received_at)                     the deadline the declaration sets

Deadlines come from the practice's declaration in force (../shared/reference/rules-and-deadlines.md
§1.1): seeing or copying the record, HIPAA's right of access (§164.524: 30 days); a correction,
the amendment deadline (§164.526: 60 days); anything else (deletion, a restriction, another
request) the access deadline too, the shortest the declaration names, so nothing waits longer
than the strictest reading. The rights issue adds extensions and the answers themselves.

A request is opened through the chart door as the patient actor (the account's link is re-read,
so a guardian whose link ended, or another account, is refused as a missing record); the detail
the patient typed is sealed under the patient's key inside an opening of the registered
`rights-request-job` (access/door.py), which writes nothing else. One `rights:request:opened`
entry with ids and the kind; an acknowledgement by e-mail only to an account whose patient has
agreed to health information by e-mail (topic phi_by_email) and through the egress gate — it
says that a request arrived and its due date, nothing else.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from confide.access import policy
from confide.access.door import RIGHTS_REQUEST_JOB, open_chart, open_patient_list
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.core.text import multi_line
from confide.rights.deadlines import deadlines_for
from confide.rights.models import DETAIL_MAX, OPEN_STATUSES, Channel, RequestKind, RequestStatus, RightsRequest, Verification

logger = logging.getLogger(__name__)

MESSAGES = "communications.messages"


def parse_kind(value) -> RequestKind:
    try:
        return RequestKind(str(value))
    except ValueError:
        raise InvalidInput("Choose what you would like us to do.") from None


def due_on(declaration, kind: RequestKind, received_at: datetime.datetime) -> datetime.date:
    return deadlines_for(declaration, kind, timezone.localdate(received_at)).due_on


def _clean_detail(detail) -> str:
    text = (detail if isinstance(detail, str) else "").strip()
    if len(text) > DETAIL_MAX:
        raise InvalidInput(f"Please keep the details to {DETAIL_MAX} characters or fewer.")
    try:
        multi_line(text)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from None
    return text


def check_open_request(*, actor: PatientActor, kind, detail: str = "", request=None) -> RightsRequest:
    """Validate, then open the request in the privacy officer's queue (status received)."""
    from confide.policy.services import declaration_in_force

    if not isinstance(actor, PatientActor) or actor.user_id is None:
        raise Forbidden("a rights request is opened by a signed-in portal account")
    checked = parse_kind(kind)
    if checked == RequestKind.APPEAL:  # an appeal names its decision (decisions.check_file_appeal)
        raise InvalidInput("To appeal a decision, use “Appeal this decision” beside the decided request.")
    text = _clean_detail(detail)
    # As the patient: the door re-reads the account's link (ended, another's: NotFound).
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={policy.NAME}, request=request) as chart:
        patient_id = chart.patient.pk
    now = timezone.now()
    dates = deadlines_for(declaration_in_force(actor.practice_id, now), checked, timezone.localdate(now))
    due = dates.due_on
    fields = dict(
        practice_id=actor.practice_id, patient_id=patient_id, kind=checked.value, status=RequestStatus.RECEIVED,
        requested_by_id=actor.user_id, by_representative=actor.representative, received_at=now, due_on=due,
        channel=Channel.PORTAL, verification=Verification.SESSION, verified_at=now, regimes=list(dates.regimes),
        ack_due_on=dates.ack_due_on,
    )  # fmt: skip
    if checked in (RequestKind.SEE, RequestKind.COPY):  # part "export": the practice's copy fee (RTS10), shown before filing
        from confide.rights.export import copy_fee_cents

        fields["fee_cents"] = copy_fee_cents(actor.practice_id) if checked == RequestKind.COPY else 0

    def write(**sealed) -> RightsRequest:
        made = RightsRequest.objects.create(**fields, **sealed)
        record(
            AuditEvent.RIGHTS_REQUEST_OPENED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=patient_id, resource_ids=[made.pk], categories=[MESSAGES] if sealed else [],
            detail={"kind": checked.value, "due_on": due.isoformat()}, request=request,
        )  # fmt: skip
        _acknowledge(actor, made, request)
        return made

    if text:  # sealed under the patient's key: written inside the job's opening (its transaction)
        job = RIGHTS_REQUEST_JOB.for_practice(actor.practice_id)
        with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories=job.categories, request=request, for_update=True):
            made = write(detail=text)
    else:
        with tenant_context(practice_id=actor.practice_id), transaction.atomic():
            made = write()
    logger.info("rights request %s opened (kind %s)", made.pk, checked.value)
    # Part "export": a verified request to see or copy the record queues the copy at once (RTS1/RTS2).
    from confide.rights.export import EXPORT_KINDS, queue_export

    if checked in EXPORT_KINDS:
        queue_export(request_row=made, actor=actor, request=request)
    # queue part: an opt-out takes effect at once, Shine the Light is answered from the declaration.
    from confide.rights.decisions import on_filed

    return on_filed(made, actor=actor, request=request)


def _acknowledge(actor: PatientActor, made: RightsRequest, request) -> None:
    """E-mail the account that asked, when the patient agreed to health information by e-mail;
    queued on commit. Nothing is said when it cannot be sent: the portal shows the request."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from confide.consent.services import has_consent
    from confide.core.models import Practice
    from confide.policy.egress import EgressRefused, check_egress

    email = get_user_model().objects.filter(pk=actor.user_id).values_list("email", flat=True).first() or ""
    if not email or not has_consent(actor.practice_id, made.patient_id, Purpose.TREATMENT, channel="email"):
        return
    try:
        check_egress(practice_id=actor.practice_id, processor_id="email", purpose=Purpose.PATIENT_REQUEST, categories={"contact.email"},
                     actor=actor, subject_ids=[made.patient_id], request=request)  # fmt: skip
    except EgressRefused:
        return
    practice = Practice.objects.get(pk=actor.practice_id).name
    subject = f"{practice}: we received your privacy request"
    body = (
        f"We received your request ({RequestKind(made.kind).label.lower()}). "
        f"We will answer by {made.due_on:%-d %B %Y}. You can follow it in the patient portal.\n\n{practice}"
    )
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]), robust=True)


# --- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestSummary:
    id: uuid.UUID
    kind: str
    kind_label: str
    status: str
    status_label: str
    received_at: datetime.datetime
    due_on: datetime.date
    by_representative: bool
    patient_name: str | None = None  # the queue, where the viewer's role sees names
    # queue part: the date that counts now (after an extension, the extended one), the channel
    answer_due_on: datetime.date | None = None
    channel: str = ""
    channel_label: str = ""
    decided_at: datetime.datetime | None = None


def _summary(row: RightsRequest, name: str | None = None) -> RequestSummary:
    return RequestSummary(
        id=row.pk, kind=row.kind, kind_label=RequestKind(row.kind).label, status=row.status,
        status_label=RequestStatus(row.status).label, received_at=row.received_at, due_on=row.due_on,
        by_representative=row.by_representative, patient_name=name,
        answer_due_on=row.extended_due_on or row.due_on, channel=row.channel, channel_label=Channel(row.channel).label,
        decided_at=row.decided_at,
    )  # fmt: skip


_COLUMNS = ("id", "kind", "status", "received_at", "due_on", "by_representative", "patient_id", "extended_due_on", "channel", "decided_at")


def list_patient_requests(*, actor: PatientActor, limit: int = 20) -> list[RequestSummary]:
    """The current record's requests, newest first: kinds, statuses and dates (no detail)."""
    if not isinstance(actor, PatientActor):
        raise Forbidden("a patient's own requests")
    with tenant_context(practice_id=actor.practice_id):
        rows = RightsRequest.objects.filter(patient_id=actor.patient_id).only(*_COLUMNS).order_by("-received_at")[:limit]
        return [_summary(row) for row in rows]


def list_open_requests(*, actor: StaffActor, request=None) -> list[RequestSummary]:
    """The privacy officer's queue: open requests, soonest due first, with the patients' names
    (one audited list opening, where the role sees names for operations) and one
    `rights:queue:viewed` entry naming the requests shown."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.RIGHTS_QUEUE_VIEW):
        raise Forbidden(Perm.RIGHTS_QUEUE_VIEW)
    with tenant_context(practice_id=actor.practice_id):
        rows = list(RightsRequest.objects.filter(status__in=OPEN_STATUSES).only(*_COLUMNS).order_by("due_on", "received_at"))
    names: dict = {}
    if rows and policy.NAME in policy.categories_for(actor.role, Purpose.OPERATIONS):
        with open_patient_list(actor, Purpose.OPERATIONS, {r.patient_id for r in rows}, categories={policy.NAME}, request=request) as patients:
            for patient in patients:
                names[patient.pk] = " ".join(p for p in (patient.given_name, patient.family_name) if p) or "[no name]"
    with tenant_context(practice_id=actor.practice_id):
        record(AuditEvent.RIGHTS_QUEUE_VIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
               resource_ids=[r.pk for r in rows], request=request)  # fmt: skip
    return [_summary(row, names.get(row.patient_id)) for row in rows]


# --- changing a request ---------------------------------------------------------------------------
class ChangedMeanwhile(InvalidInput):
    """The request changed since the page was shown (another officer, another tab): views answer 409."""


def transition(*, practice_id, request_id, expected_version: int, allowed_from=None, **changes) -> RightsRequest:
    """Change a request by a conditional update on its version (and, with `allowed_from`, only
    from those statuses): exactly one of two racing changes wins, the other gets ChangedMeanwhile
    and changes nothing. Returns the row as it is now."""
    with tenant_context(practice_id=practice_id):
        rows = RightsRequest.objects.filter(pk=request_id, version=expected_version)
        if allowed_from is not None:
            rows = rows.filter(status__in=[str(s) for s in allowed_from])
        if rows.update(**changes, version=F("version") + 1) != 1:
            if not RightsRequest.objects.filter(pk=request_id).exists():
                raise NotFound("rights request")
            raise ChangedMeanwhile("This request changed since you opened it. Reload the page and try again.")
        return RightsRequest.objects.get(pk=request_id)
