"""How rights requests ARRIVE and how a requester without a signed-in account is VERIFIED
(issue 17 items 1, 2, 7; RTS6, ACC7, RTS9, MIN3).

    filed = check_file_public_request(practice=…, data=…, files=…, client_ip=…)   the public form
    outcome = check_verify_code(practice=…, token=…, code=…)                       the code page
    row = do_log_request(actor=StaffActor, patient_id=…, kind=…, channel=…, …)      staff logging
    filed = do_route_request(practice_slug=…, kind=…, received_on=…, …)             the operator (RTS9)
    purge_expired_checks(practice_id)                                               stale checks

A visitor names the patient (name and date of birth) and how to reach them. Opt-outs
(UNVERIFIED_KINDS: CCPA §7026/§7027) need no verification: recorded at once. Anything else is
matched by the blind indexes on Patient (every name token AND the date of birth: two
identifiers, ACC7); a one-time code (6 digits, 15 minutes, 5 attempts) goes by e-mail to the
contact ON FILE in the chart (a minor's: the chart's e-mail, else the guardian's), never to the
address typed. What the visitor typed to be verified is an `IdentityCheck`, sealed under its own
key, deleted and shredded when the check ends (verified, failed, expired). No match, wrong code,
too many attempts and an expired code read the same to the visitor: nothing says whether a
patient exists. The code is consumed by one conditional UPDATE: of parallel submissions exactly
one wins.

An authorised agent (RTS6) sends the patient's identifiers, their own e-mail and a signed
authorisation (PDF, JPEG or PNG; validated like every upload; at most AGENT_DOCUMENT_MAX_BYTES).
The agent gets the code (their own identity); once they enter it the patient is told by a letter
kept with the request (`keep_letter`, kind agent_notice) and sent to the contact on file with a
second code: the request waits (`by_agent=True`, status verifying) until the patient confirms.
Without a document the agent is refused. The document is sealed under the matched patient's key
(nothing is kept when nothing matched) and deleted if the check fails.

Every path fixes the deadlines from the declaration in force (`deadlines_for`), writes one
`rights:request:received` entry (ids, kind, channel; never a name) and, for the web form and the
operator, keeps an acknowledgement letter (rights/letters/acknowledgement.txt, CCPA §7021(a)).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from confide.access import policy as access_policy
from confide.access.door import RIGHTS_REQUEST_JOB, RIGHTS_VERIFY_JOB, open_chart, open_patient_list, write_new_subject
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.records import intake as forms_intake
from confide.rights.deadlines import deadlines_for
from confide.rights.letters import keep_letter
from confide.rights.models import (
    UNVERIFIED_KINDS, AgentDocument, Channel, IdentityCheck, LetterKind, LetterStatus, RequestKind, RequestStatus,
    RightsRequest, Verification,
)  # fmt: skip
from confide.rights.services import ChangedMeanwhile, _clean_detail, transition
from confide.vault import blind_index, keys

log = logging.getLogger(__name__)

MESSAGES = "communications.messages"
CODE_TTL = datetime.timedelta(minutes=15)
MAX_ATTEMPTS = 5
LOG_WINDOW_DAYS = 30  # a request staff log, or the operator forwards, was received at most this long ago
AGENT_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
ACK_TEMPLATE = "rights/letters/acknowledgement.txt"
AGENT_NOTICE_TEMPLATE = "rights/letters/agent_notice.txt"
CHECK_CATEGORIES = frozenset({access_policy.NAME, access_policy.DOB, access_policy.EMAIL, access_policy.PHONE, MESSAGES})

# What a visitor may file on the public form (restrict: ask the practice; the portal offers it).
PUBLIC_KINDS = (
    RequestKind.SEE, RequestKind.COPY, RequestKind.CORRECT, RequestKind.DELETE, RequestKind.OPT_OUT_SALE,
    RequestKind.LIMIT_SENSITIVE, RequestKind.OPT_OUT_PROFILING, RequestKind.ACCOUNTING, RequestKind.SHINE_THE_LIGHT,
    RequestKind.APPEAL, RequestKind.OTHER,
)  # fmt: skip


class Role:
    PATIENT = "patient"
    GUARDIAN = "guardian"  # a parent or guardian of a minor patient (MIN3)
    AGENT = "agent"  # an authorised agent with the patient's signed permission (RTS6)


ROLES = {
    Role.PATIENT: "The patient",
    Role.GUARDIAN: "A parent or guardian of a minor patient",
    Role.AGENT: "An authorised agent acting with the patient's signed permission",
}

# How staff checked identity (a fixed choice: the audit entry carries the code).
EVIDENCE = {
    "id_seen": "ID seen at the desk",
    "security_questions": "Answered security questions",
    "portal_account": "Portal account",
}
LOG_CHANNELS = (Channel.EMAIL, Channel.PHONE, Channel.LETTER, Channel.IN_PERSON)

# The public messages (the same words whether or not a patient matched).
NOT_VERIFIED = "That code did not work. Check the latest message we sent and try again."
FAILED = (
    "We could not confirm who is asking, so we cannot act on this request online. Nothing more will be done with the "
    "details you gave. Please contact the practice: they can check your identity another way."
)
EXPIRED = "This code has expired. " + FAILED
GONE = "This link has expired or has already been used."
TOO_MANY = "Too many requests were sent from this connection. Please try again in an hour, or contact the practice."
AGENT_NEEDS_DOCUMENT = (
    "An authorised agent must attach the patient's signed authorisation (a PDF, JPEG or PNG). Nothing was sent."
)


class TooMany(InvalidInput):
    """More requests from one client than the hourly limit."""


class CheckGone(NotFound):
    """No pending check behind this link (used, ended, another practice's, made up)."""


class VerifyFailed(InvalidInput):
    """The code did not verify; `final`: the check ended (too many attempts, expired)."""

    def __init__(self, message: str, *, final: bool = False):
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class Filed:
    request: RightsRequest
    token: str | None  # the verification page's token (None: nothing to verify)


@dataclass(frozen=True)
class Verified:
    request: RightsRequest
    waiting_for_patient: bool  # an agent's request: the patient confirms next


# --- small helpers ---------------------------------------------------------------------------------
def code_hash(check_id, code: str) -> str:
    message = f"{check_id}:{(code or '').strip()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _practice_name(practice_id) -> str:
    from confide.core.models import Practice

    return Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "The practice"


def _deadlines(practice_id, kind, received_at: datetime.datetime):
    from confide.policy.services import declaration_in_force

    return deadlines_for(declaration_in_force(practice_id, received_at), kind, timezone.localdate(received_at))


def _parse_kind(value, allowed=PUBLIC_KINDS) -> RequestKind:
    try:
        kind = RequestKind(str(value or ""))
    except ValueError:
        kind = None
    if kind not in allowed:
        raise InvalidInput("Choose what you would like us to do.")
    return kind


def match_patient(practice_id, given_name: str, family_name: str, born: datetime.date) -> uuid.UUID | None:
    """The one chart whose name tokens include every token typed AND whose date of birth is the
    one typed (blind indexes: nothing is decrypted to search). None for no match or several."""
    try:
        named = blind_index.search(practice_id, "name", f"{given_name} {family_name}")
        found = named & blind_index.search(practice_id, "dob", born)
    except blind_index.NotSearchable:
        return None
    if len(found) != 1:
        return None
    (patient_id,) = found
    from confide.records.models import Patient

    return patient_id if Patient.objects.filter(pk=patient_id, is_active=True).exists() else None


def _contact_on_file(practice_id, patient_id, request=None) -> str:
    """The chart's e-mail address (a minor's: the guardian's when the chart has none), read by the
    verify job; '' when there is none."""
    job = RIGHTS_VERIFY_JOB.for_practice(practice_id)
    with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories={access_policy.EMAIL, access_policy.GUARDIAN},
                    request=request) as chart:  # fmt: skip
        email = chart.patient.email or ""
        if not email and isinstance(chart.patient.guardian, dict):
            email = str(chart.patient.guardian.get("email") or "")
    return email


def _send_email(practice_id, subject_ids, to: str, subject: str, body: str, request=None) -> bool:
    """A fixed text by e-mail, through the egress gate, once the transaction commits. The body
    may hold a code: it is never logged, audited or kept."""
    from django.core.mail import send_mail

    from confide.policy.egress import EgressRefused, check_egress

    if not to:
        return False
    try:
        check_egress(practice_id=practice_id, processor_id="email", purpose=Purpose.PATIENT_REQUEST, categories={"contact.email"},
                     actor=RIGHTS_VERIFY_JOB.for_practice(practice_id), subject_ids=list(subject_ids), request=request)  # fmt: skip
    except EgressRefused:
        return False
    transaction.on_commit(lambda: send_mail(subject, body, None, [to]), robust=True)
    return True


def verify_url(practice, token: str) -> str:
    from django.urls import reverse

    path = reverse("rights:public-verify", kwargs={"practice_slug": practice.slug, "check_token": token})
    return f"{settings.CONFIDE_BASE_URL.rstrip('/')}{path}"


def _code_body(practice_name: str, code: str, *, link: str = "", for_agent_request: bool = False) -> str:
    lead = (
        "Someone says they act for you with your signed permission and asked the practice about your information. "
        "If you agree, confirm with this code" if for_agent_request else "To confirm a privacy request, enter this code"
    )
    where = f" on this page: {link}" if link else " on the page where you made the request"
    return (
        f"{lead}{where}\n\n{code}\n\nIt works once, for 15 minutes. If you did not ask for this, you can ignore this message "
        f"or tell the practice.\n\n{practice_name}"
    )


def _shred_after_commit(practice_id, subject_ids) -> None:
    def shred():
        with tenant_context(practice_id=practice_id):
            for subject_id in subject_ids:
                keys.shred_subject(practice_id, subject_id)

    transaction.on_commit(shred)


# --- filing ------------------------------------------------------------------------------------------
@dataclass
class _Typed:
    kind: RequestKind
    role: str
    given_name: str
    family_name: str
    date_of_birth: datetime.date
    email: str
    phone: str
    detail: str
    appeal_of: uuid.UUID | None
    document: object | None  # a CleanUpload


def _count_attempt(practice_id, client_ip: str) -> None:
    try:
        forms_intake._count_attempt(practice_id, f"rights|{client_ip or ''}")
    except forms_intake.TooMany:
        raise TooMany(TOO_MANY) from None


def _appeal_reference(practice_id, value) -> uuid.UUID:
    text = str(value or "").strip()
    try:
        pk = uuid.UUID(text)
    except ValueError:
        raise InvalidInput("Appeal: give the reference of the earlier request, as it appears on our letter.") from None
    if not RightsRequest.objects.filter(pk=pk).exists():
        raise InvalidInput("Appeal: we could not find a request with that reference. Check the letter we sent.")
    return pk


def _document(files):
    from confide.vault.files import FileRejected, validate_upload

    upload = files.get("authorisation") if files else None
    if upload is None:
        raise InvalidInput(AGENT_NEEDS_DOCUMENT)
    try:
        return validate_upload(upload, declared_content_type=getattr(upload, "content_type", ""),
                               max_bytes=min(AGENT_DOCUMENT_MAX_BYTES, settings.CONFIDE_UPLOAD_MAX_BYTES))  # fmt: skip
    except FileRejected as exc:
        raise InvalidInput(f"Signed authorisation: {exc}") from None


def check_public_form(practice_id, data, files=None) -> _Typed:
    """Every problem of the form at once (intake.FormInvalid), nothing written."""
    problems = forms_intake._Problems()
    kind = problems.check("kind", _parse_kind, data.get("kind"))
    role = str(data.get("role") or "")
    if role not in ROLES:
        problems.add("role", "Say who you are: the patient, a parent or guardian, or an authorised agent.")
    contact = forms_intake._contact(data, problems)
    detail = problems.check("detail", _clean_detail, data.get("detail"))
    appeal_of = problems.check("appeal_of", _appeal_reference, practice_id, data.get("appeal_of")) if kind == RequestKind.APPEAL else None
    document = None
    if role == Role.AGENT:
        if contact is not None and not contact.email:
            problems.add("email", "An authorised agent gives their own e-mail address: the code goes there.")
        document = problems.check("authorisation", _document, files)
    problems.raise_any()
    return _Typed(kind, role, contact.given_name, contact.family_name, contact.date_of_birth, contact.email, contact.phone,
                  detail or "", appeal_of, document)  # fmt: skip


def check_file_public_request(*, practice, data, files=None, client_ip: str, request=None) -> Filed:
    """The public form: the hourly limit, the honeypot, the fields, then `_file`. Raises
    forms_intake.Honeypot (the view thanks a bot), TooMany, intake.FormInvalid."""
    _count_attempt(practice.id, client_ip)
    if (data.get("website") or "").strip():
        record(AuditEvent.RIGHTS_REQUEST_REFUSED, practice_id=practice.id, actor=system_actor(RIGHTS_VERIFY_JOB.name), reason="honeypot")
        raise forms_intake.Honeypot
    typed = check_public_form(practice.id, data, files)
    filed = _file(practice=practice, typed=typed, channel=Channel.WEB_FORM, received_at=timezone.now(), request=request)
    if filed.request.verification == Verification.NOT_REQUIRED:  # an opt-out: takes effect at once (RTS5)
        _on_filed(filed.request, request=request)
    return filed


def _file(*, practice, typed: _Typed, channel: Channel, received_at: datetime.datetime, request=None, link_in_code: bool = False) -> Filed:
    """Open the request (no patient yet), its identity check, an agent's document and the
    acknowledgement, in one transaction; the code and the acknowledgement leave by e-mail once it
    commits."""
    with transaction.atomic():
        return _file_in_transaction(practice=practice, typed=typed, channel=channel, received_at=received_at, request=request,
                                    link_in_code=link_in_code)  # fmt: skip


def _file_in_transaction(*, practice, typed: _Typed, channel: Channel, received_at: datetime.datetime, request, link_in_code: bool) -> Filed:
    practice_id = practice.id
    dates = _deadlines(practice_id, typed.kind, received_at)
    unverified = typed.kind in UNVERIFIED_KINDS
    patient_id = match_patient(practice_id, typed.given_name, typed.family_name, typed.date_of_birth)
    now = timezone.now()
    fields = dict(
        practice_id=practice_id, kind=typed.kind.value, channel=channel.value, received_at=received_at, due_on=dates.due_on,
        ack_due_on=dates.ack_due_on, regimes=list(dates.regimes), by_representative=typed.role == Role.GUARDIAN,
        by_agent=typed.role == Role.AGENT, appeal_of_id=typed.appeal_of,
    )  # fmt: skip
    check_id = uuid.uuid4()
    token = secrets.token_urlsafe(32)
    job = RIGHTS_VERIFY_JOB.for_practice(practice_id)
    destination = ""
    if not unverified and patient_id is not None:
        destination = typed.email if typed.role == Role.AGENT else _contact_on_file(practice_id, patient_id, request)
    code = _new_code()
    with write_new_subject(job, Purpose.PATIENT_REQUEST, categories=CHECK_CATEGORIES, subject_id=check_id, request=request):
        if unverified:  # CCPA §7026/7027: no verification; the queue applies it to whoever it matches
            made = RightsRequest.objects.create(**fields, status=RequestStatus.RECEIVED, verification=Verification.NOT_REQUIRED,
                                                patient_id=patient_id)  # fmt: skip
        else:
            made = RightsRequest.objects.create(**fields, status=RequestStatus.VERIFYING,
                                                verification=Verification.PENDING if destination else Verification.FAILED)  # fmt: skip
        record(
            AuditEvent.RIGHTS_REQUEST_RECEIVED, practice_id=practice_id, actor=system_actor(job.name), purpose=Purpose.PATIENT_REQUEST.value,
            resource_ids=[made.pk], detail={"kind": typed.kind.value, "channel": channel.value, "due_on": dates.due_on.isoformat(),
                                            "by": typed.role}, request=request,
        )  # fmt: skip
        if not unverified:
            check = IdentityCheck(
                id=check_id, practice_id=practice_id, request=made, patient_id=patient_id if destination else None, token=token,
                code_hash=code_hash(check_id, code) if destination else "", expires_at=now + CODE_TTL,
            )  # fmt: skip
            check.given_name, check.family_name, check.date_of_birth = typed.given_name, typed.family_name, typed.date_of_birth
            check.email, check.phone, check.detail = typed.email or None, typed.phone or None, typed.detail or None
            check.save(force_insert=True)
        link = verify_url(practice, token) if link_in_code else ""
        if destination and _send_email(practice_id, [patient_id], destination, f"{practice.name}: your confirmation code",
                                       _code_body(practice.name, code, link=link), request):  # fmt: skip
            record(AuditEvent.RIGHTS_CODE_SENT, practice_id=practice_id, actor=system_actor(job.name), purpose=Purpose.PATIENT_REQUEST.value,
                   subject_id=patient_id, resource_ids=[made.pk, check_id],
                   detail={"to": "agent" if typed.role == Role.AGENT else "file"}, request=request)  # fmt: skip
    if typed.document is not None and destination:
        _keep_agent_document(practice_id, made, patient_id, typed.document, request)
    if unverified and typed.detail and patient_id is not None:
        _seal_detail(practice_id, made.pk, patient_id, typed.detail, request)
    _acknowledge(practice, made, typed.email, request, link=verify_url(practice, token) if (link_in_code and not unverified) else "")
    log.info("rights request %s received (kind %s, channel %s)", made.pk, typed.kind.value, channel.value)
    return Filed(made, None if unverified else token)


def _keep_agent_document(practice_id, made: RightsRequest, patient_id, document, request) -> None:
    """The agent's signed authorisation, sealed under the matched patient's key (deleted if the
    check fails)."""
    from confide.vault.files import EncryptedStorage

    job = RIGHTS_VERIFY_JOB.for_practice(practice_id)
    with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories={AgentDocument.CATEGORY}, request=request, for_update=True):
        name = EncryptedStorage().save_encrypted("agent-authorisation", document.file, practice_id=practice_id, subject_id=patient_id,
                                                 content_type=document.content_type, category=AgentDocument.CATEGORY)  # fmt: skip
        AgentDocument.objects.create(practice_id=practice_id, request=made, patient_id=patient_id, storage_name=name,
                                     content_type=document.content_type, size=document.size)  # fmt: skip


def _seal_detail(practice_id, request_id, patient_id, detail: str, request) -> None:
    job = RIGHTS_REQUEST_JOB.for_practice(practice_id)
    with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories=job.categories, request=request, for_update=True):
        row = RightsRequest.objects.select_for_update().get(pk=request_id)
        row.detail = detail
        row.save(update_fields=["detail", "updated_at"])


def _acknowledge(practice, made: RightsRequest, email: str, request, *, link: str = "") -> None:
    """CCPA §7021(a): what was received, how identity is checked, when to expect an answer. Kept
    (no body: no patient yet; its dates in `context`) and, when the requester gave an e-mail
    address, sent there: it names no patient and no health matter."""
    from confide.rights.letters import render_letter

    made.refresh_from_db()
    sent = False
    if email:
        body = render_letter(ACK_TEMPLATE, {}, practice_name=practice.name, request_row=made)
        if link:  # the operator forwarded it (RTS9): the practice's own verification page
            body += f"\nTo confirm who is asking, open this page and enter the code we sent to the contact details we hold: {link}\n"
        with tenant_context(practice_id=practice.id), transaction.atomic():
            sent = _send_email(practice.id, [made.pk], email, f"{practice.name}: we received your privacy request", body, request)
    context = {"received_on": made.received_at.date(), "due_on": made.due_on, "kind": made.kind}
    keep_letter(practice_id=practice.id, request_row=made, kind=LetterKind.ACKNOWLEDGEMENT, template=ACK_TEMPLATE, context=context,
                status=LetterStatus.SENT if sent else LetterStatus.TO_PRINT, channel="email" if sent else "web",
                stored_context_keys=("received_on", "due_on", "kind"), patient_id=made.patient_id, request=request)  # fmt: skip
    RightsRequest.objects.filter(pk=made.pk).update(acknowledged_at=timezone.now())


# --- verifying -----------------------------------------------------------------------------------------
def pending_check(token: str) -> IdentityCheck:
    """The pending check behind a verification link (inside the practice's context), or CheckGone."""
    row = IdentityCheck.objects.filter(token=str(token or "")[:64], status=IdentityCheck.Status.PENDING).select_related("request").first()
    if row is None:
        raise CheckGone("identity check")
    return row


def _end_failed(check: IdentityCheck, result: str, request) -> None:
    """The check ends without verifying: the request is marked failed, the check's row deleted and
    its key shredded, an agent's document deleted; one audit entry (ids, the result code)."""
    from confide.vault.files import EncryptedStorage

    with transaction.atomic():
        ended = list(IdentityCheck.objects.filter(request_id=check.request_id).values_list("pk", flat=True))
        if not IdentityCheck.objects.filter(pk=check.pk).delete()[0]:
            return  # another submission ended it first
        # Every check of the request ends with it (an agent's first check, already used, holds
        # what the agent typed: it goes too).
        IdentityCheck.objects.filter(request_id=check.request_id).delete()
        RightsRequest.objects.filter(pk=check.request_id, verification__in=[Verification.PENDING]).update(
            verification=Verification.FAILED, version=F("version") + 1, updated_at=timezone.now())  # fmt: skip
        docs = list(AgentDocument.objects.filter(request_id=check.request_id))
        AgentDocument.objects.filter(request_id=check.request_id).delete()
        record(AuditEvent.RIGHTS_IDENTITY_CHECKED, practice_id=check.practice_id, actor=system_actor(RIGHTS_VERIFY_JOB.name),
               purpose=Purpose.PATIENT_REQUEST.value, resource_ids=[check.request_id, check.pk], outcome="refused",
               detail={"result": result, "step": check.step}, request=request)  # fmt: skip
        names = [d.storage_name for d in docs]
        transaction.on_commit(lambda: [EncryptedStorage().delete(n) for n in names])
        _shred_after_commit(check.practice_id, ended or [check.pk])


def check_verify_code(*, practice, token: str, code: str, request=None) -> Verified:
    """Use a code once (`_use_code`); a request verified for the patient then takes effect as
    filed (decisions.on_filed: an opt-out applies, Shine the Light is answered)."""
    verified = _use_code(practice=practice, token=token, code=code, request=request)
    if not verified.waiting_for_patient:
        _on_filed(verified.request, request=request)
    return verified


def _on_filed(row: RightsRequest, *, actor=None, request=None) -> None:
    """The request takes effect as filed; when it cannot by itself (an opt-out logged by a staff
    member who does not record consent), it stays open in the queue for someone who can."""
    from confide.rights.decisions import on_filed

    try:
        on_filed(row, actor=actor, request=request)
    except Forbidden:
        logger.info("rights request %s left open: its effect needs a member who records consent", row.pk)


def _use_code(*, practice, token: str, code: str, request=None) -> Verified:
    """Use a code once. VerifyFailed (NOT_VERIFIED while attempts remain; FAILED/EXPIRED, final)
    reads the same whether or not a patient matched; CheckGone for a used or unknown link."""
    check = pending_check(token)
    now = timezone.now()
    if check.expires_at <= now:
        _end_failed(check, "expired", request)
        raise VerifyFailed(EXPIRED, final=True)
    digest = code_hash(check.pk, str(code or "")[:12])
    # One transaction: the conditional UPDATE that consumes the code and everything verifying
    # does commit together (the row lock holds parallel submissions until then; they find the
    # code used). A failure on the way rolls the whole back: the code still works.
    if check.patient_id is not None:
        with transaction.atomic():
            won = IdentityCheck.objects.filter(
                pk=check.pk, status=IdentityCheck.Status.PENDING, attempts__lt=MAX_ATTEMPTS, expires_at__gt=now, code_hash=digest,
            ).update(status=IdentityCheck.Status.USED, updated_at=now)  # fmt: skip
            if won:
                if check.step == IdentityCheck.Step.REQUESTER and check.request.by_agent:
                    return _agent_verified(practice, check, request)
                return _verified(check, request)
    IdentityCheck.objects.filter(pk=check.pk, status=IdentityCheck.Status.PENDING).update(attempts=F("attempts") + 1)
    row = IdentityCheck.objects.filter(pk=check.pk).values_list("attempts", "status").first()
    if row is None or row[1] != IdentityCheck.Status.PENDING:
        raise CheckGone("identity check")  # another submission used or ended it
    if row[0] >= MAX_ATTEMPTS:
        _end_failed(check, "too_many" if check.patient_id else "no_match", request)
        raise VerifyFailed(FAILED, final=True)
    record(AuditEvent.RIGHTS_IDENTITY_CHECKED, practice_id=check.practice_id, actor=system_actor(RIGHTS_VERIFY_JOB.name),
           purpose=Purpose.PATIENT_REQUEST.value, resource_ids=[check.request_id, check.pk], outcome="refused",
           detail={"result": "wrong_code", "step": check.step}, request=request)  # fmt: skip
    raise VerifyFailed(NOT_VERIFIED)


def _read_check(check: IdentityCheck, categories, request) -> dict:
    job = RIGHTS_VERIFY_JOB.for_practice(check.practice_id)
    with write_new_subject(job, Purpose.PATIENT_REQUEST, categories=CHECK_CATEGORIES, subject_id=check.pk, request=request):
        row = IdentityCheck.objects.get(pk=check.pk)
        return {"detail": row.detail or "", "email": row.email or ""}


def _verified(check: IdentityCheck, request) -> Verified:
    """The request gets its patient, `verification=code`, `verified_at`, status in progress; the
    typed detail moves under the patient's key; every check of the request is deleted and shredded."""
    first = IdentityCheck.objects.filter(request_id=check.request_id, step=IdentityCheck.Step.REQUESTER).first() or check
    typed = _read_check(first, CHECK_CATEGORIES, request)
    now = timezone.now()
    job = RIGHTS_REQUEST_JOB.for_practice(check.practice_id)
    checks = list(IdentityCheck.objects.filter(request_id=check.request_id).values_list("pk", flat=True))
    with open_chart(job, check.patient_id, Purpose.PATIENT_REQUEST, categories=job.categories, request=request, for_update=True):
        current = RightsRequest.objects.get(pk=check.request_id)
        made = transition(
            practice_id=check.practice_id, request_id=current.pk, expected_version=current.version,
            allowed_from=[RequestStatus.VERIFYING, RequestStatus.RECEIVED], patient_id=check.patient_id,
            verification=Verification.CODE, verified_at=now, status=RequestStatus.IN_PROGRESS, updated_at=now,
        )  # fmt: skip
        if typed["detail"]:
            made.detail = typed["detail"]
            made.save(update_fields=["detail", "updated_at"])
        IdentityCheck.objects.filter(pk__in=checks).delete()
        record(AuditEvent.RIGHTS_IDENTITY_CHECKED, practice_id=check.practice_id, actor=system_actor(RIGHTS_VERIFY_JOB.name),
               purpose=Purpose.PATIENT_REQUEST.value, subject_id=check.patient_id, resource_ids=[made.pk, *checks],
               categories=[MESSAGES] if typed["detail"] else [], detail={"result": "verified", "step": check.step},
               request=request)  # fmt: skip
        _shred_after_commit(check.practice_id, checks)
    return Verified(made, waiting_for_patient=False)


def _agent_verified(practice, check: IdentityCheck, request) -> Verified:
    """The agent proved their contact: the patient is told (a letter kept with the request, and a
    second code to the contact on file); the request waits for the patient's confirmation."""
    destination = _contact_on_file(check.practice_id, check.patient_id, request)
    second_id, token, code = uuid.uuid4(), secrets.token_urlsafe(32), _new_code()
    with tenant_context(practice_id=check.practice_id), transaction.atomic():
        IdentityCheck.objects.create(
            id=second_id, practice_id=check.practice_id, request_id=check.request_id, patient_id=check.patient_id if destination else None,
            token=token, step=IdentityCheck.Step.PATIENT, code_hash=code_hash(second_id, code) if destination else "",
            expires_at=timezone.now() + datetime.timedelta(days=7),
        )  # fmt: skip
        record(AuditEvent.RIGHTS_IDENTITY_CHECKED, practice_id=check.practice_id, actor=system_actor(RIGHTS_VERIFY_JOB.name),
               purpose=Purpose.PATIENT_REQUEST.value, subject_id=check.patient_id, resource_ids=[check.request_id, check.pk],
               detail={"result": "agent_verified", "step": check.step}, request=request)  # fmt: skip
        made = RightsRequest.objects.get(pk=check.request_id)
        status = LetterStatus.TO_PRINT
        if destination:
            record(AuditEvent.RIGHTS_CODE_SENT, practice_id=check.practice_id, actor=system_actor(RIGHTS_VERIFY_JOB.name),
                   purpose=Purpose.PATIENT_REQUEST.value, subject_id=check.patient_id, resource_ids=[made.pk, second_id],
                   detail={"to": "file"}, request=request)  # fmt: skip
            body = _code_body(practice.name, code, link=verify_url(practice, token), for_agent_request=True)
            if _send_email(check.practice_id, [check.patient_id], destination, f"{practice.name}: someone asked on your behalf", body, request):
                status = LetterStatus.SENT
        context = {"received_on": made.received_at.date(), "kind": made.kind}
        keep_letter(practice_id=check.practice_id, request_row=made, kind=LetterKind.AGENT_NOTICE, template=AGENT_NOTICE_TEMPLATE,
                    context=context, status=status, channel="email" if status == LetterStatus.SENT else "post",
                    patient_id=check.patient_id, stored_context_keys=("received_on", "kind"), request=request)  # fmt: skip
    return Verified(made, waiting_for_patient=True)


def purge_expired_checks(practice_id, *, now=None) -> int:
    """End every check past its expiry (failed, deleted, shredded). For a scheduled job."""
    now = now or timezone.now()
    count = 0
    with tenant_context(practice_id=practice_id):
        for check in IdentityCheck.objects.filter(status=IdentityCheck.Status.PENDING, expires_at__lte=now):
            _end_failed(check, "expired", None)
            count += 1
    return count


# --- staff logging ---------------------------------------------------------------------------------------
def parse_received(value, *, now=None) -> datetime.datetime:
    """When a logged or forwarded request was received: a date or date-time, not in the future,
    at most LOG_WINDOW_DAYS ago; empty: now."""
    now = now or timezone.now()
    text = str(value or "").strip()
    if not text:
        return now
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("When it was received: give a date as YYYY-MM-DD (and a time, if you know it).") from None
    if parsed.tzinfo is None:
        parsed = timezone.make_aware(parsed) if len(text) > 10 else timezone.make_aware(datetime.datetime.combine(parsed.date(), datetime.time(12)))
    if parsed > now + datetime.timedelta(minutes=5) or timezone.localdate(parsed) > timezone.localdate(now):
        raise InvalidInput("When it was received: that is in the future.")
    if parsed < now - datetime.timedelta(days=LOG_WINDOW_DAYS):
        raise InvalidInput(f"When it was received: at most {LOG_WINDOW_DAYS} days ago. Older requests: ask the privacy officer.")
    return min(parsed, now)


def do_log_request(*, actor: StaffActor, patient_id, kind, channel, received=None, evidence, detail: str = "", request=None) -> RightsRequest:
    """A request received by e-mail, phone, letter or in person, logged by staff: verified by the
    staff member (`verification=staff`, one of EVIDENCE), logged_by them, deadlines from when it
    was received; the detail sealed under the patient's key; one audit entry."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.RIGHTS_REQUEST_LOG):
        raise Forbidden(Perm.RIGHTS_REQUEST_LOG)
    checked = _parse_kind(kind, allowed=tuple(RequestKind))
    try:
        ch = Channel(str(channel or ""))
    except ValueError:
        ch = None
    if ch not in LOG_CHANNELS:
        raise InvalidInput("Choose how the request reached you.")
    if evidence not in EVIDENCE:
        raise InvalidInput("Choose how you checked who is asking.")
    received_at = parse_received(received)
    text = _clean_detail(detail)
    try:
        pk = uuid.UUID(str(patient_id or ""))
    except ValueError:
        raise InvalidInput("Choose the patient from the list.") from None
    dates = _deadlines(actor.practice_id, checked, received_at)
    now = timezone.now()
    job = RIGHTS_REQUEST_JOB.for_practice(actor.practice_id)
    # The door as the staff member (their membership, the patient in their practice: the name
    # they picked, for operations), then the job seals the detail under the patient's key.
    with open_chart(actor, pk, Purpose.OPERATIONS, categories={access_policy.NAME}, request=request):
        pass
    with open_chart(job, pk, Purpose.PATIENT_REQUEST, categories=job.categories, request=request, for_update=True):
        made = RightsRequest.objects.create(
            practice_id=actor.practice_id, patient_id=pk, kind=checked.value, status=RequestStatus.IN_PROGRESS, channel=ch.value,
            logged_by_id=actor.user_id, verification=Verification.STAFF, verified_at=now, received_at=received_at,
            due_on=dates.due_on, ack_due_on=dates.ack_due_on, regimes=list(dates.regimes), detail=text or None,
        )  # fmt: skip
        record(AuditEvent.RIGHTS_REQUEST_RECEIVED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
               subject_id=pk, resource_ids=[made.pk], categories=[MESSAGES] if text else [],
               detail={"kind": checked.value, "channel": ch.value, "due_on": dates.due_on.isoformat(), "evidence": evidence},
               request=request)  # fmt: skip
    _on_filed(made, actor=actor, request=request)  # an opt-out applies at once; Shine the Light is answered
    made.refresh_from_db(fields=["status", "version", "decided_at", "decided_by"])
    return made


def find_patients(actor: StaffActor, query: str, *, request=None) -> list[tuple[uuid.UUID, str, datetime.date | None]]:
    """The staff form's patient picker: the practice's search (blind indexes), then one audited
    list opening for names and dates of birth."""
    from confide.records.services import search_patient_ids

    if not isinstance(actor, StaffActor) or not actor.has(Perm.RIGHTS_REQUEST_LOG):
        raise Forbidden(Perm.RIGHTS_REQUEST_LOG)
    if not (query or "").strip():
        return []
    ids = search_patient_ids(actor, query.strip()[:100])[:20]
    if not ids:
        return []
    with open_patient_list(actor, Purpose.OPERATIONS, ids, categories={access_policy.NAME, access_policy.DOB}, request=request) as listed:
        return sorted(((p.pk, " ".join(x for x in (p.given_name, p.family_name) if x) or "[no name]", p.date_of_birth) for p in listed),
                      key=lambda r: r[1].casefold())  # fmt: skip


# --- the operator (RTS9) -------------------------------------------------------------------------------
def do_route_request(*, practice_slug: str, kind, received, channel: str = "email", given_name: str, family_name: str,
                     date_of_birth: str, email: str, role: str = Role.PATIENT) -> Filed:  # fmt: skip
    """A request that reached the operator of the deployment about a practice's patient: it
    lands in that practice's queue (channel operator, verification pending) through the same
    path as the public form, and the requester is e-mailed the practice's verification link.
    An unknown practice: InvalidInput, nothing written."""
    from confide.core.models import Practice

    practice = Practice.objects.filter(slug=str(practice_slug or "").strip()).first()
    if practice is None:
        raise InvalidInput(f"No practice with the address name {practice_slug!r}: nothing was recorded.")
    if role == Role.AGENT:
        raise InvalidInput("An agent's request needs the signed authorisation: ask them to use the practice's form.")
    data = {"kind": str(kind or ""), "role": role, "given_name": given_name, "family_name": family_name,
            "date_of_birth": date_of_birth, "email": email, "phone": ""}  # fmt: skip
    with tenant_context(practice_id=practice.id):
        received_at = parse_received(received)
        typed = check_public_form(practice.id, data)
        if not typed.email:
            raise InvalidInput("The requester's e-mail address is needed: the verification link goes there.")
        return _file(practice=practice, typed=typed, channel=Channel.OPERATOR, received_at=received_at, link_in_code=True)


__all__ = [
    "ChangedMeanwhile", "CheckGone", "EVIDENCE", "Filed", "PUBLIC_KINDS", "ROLES", "TooMany", "VerifyFailed", "Verified",
    "check_file_public_request", "check_verify_code", "do_log_request", "do_route_request", "find_patients", "match_patient",
    "purge_expired_checks",
]  # fmt: skip
