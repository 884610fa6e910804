"""Deciding rights requests (queue part, issue 17): the request page's reading, the one extension,
closing with an outcome, appeals, and what happens the moment a request is filed.

    get_request_page(actor=StaffActor, request_id=…)             what the page shows (audited)
    do_extend(actor=…, request_id=…, expected_version=…, reason=…)   once, within the first period
    do_close(actor=…, request_id=…, expected_version=…, outcome=…, basis=…)   with its letter
    check_file_appeal(actor=PatientActor|StaffActor, appeal_of_id=…, state=…)  RTS7
    on_filed(row, request=None)                                   opt-outs take effect (RTS5), Shine the Light (RTS8)
    denial_bases(kind)                                            the fixed list a denial chooses from

Every change is `services.transition` (a conditional update on `version`): a stale form gets
`ChangedMeanwhile` (the view answers 409) and changes nothing; the letter is sent and kept in the
same transaction as the change, with the change's audit entry (ids, codes and dates only).

An appeal is decided by someone other than the one who decided the request it appeals (HIPAA
§164.524(d)(4), the state laws' appeal): `do_close` refuses the same user, and the page says so.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.template.loader import TemplateDoesNotExist, get_template
from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent, event_label
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.rights.deadlines import deadlines_for
from confide.rights.letters import send_letter
from confide.rights.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Channel,
    ExtensionReason,
    Letter,
    LetterKind,
    RequestKind,
    RequestStatus,
    RightsRequest,
    Verification,
)
from confide.rights.services import ChangedMeanwhile, transition  # noqa: F401  (re-exported for views)

logger = logging.getLogger(__name__)

MESSAGES = "communications.messages"
K = RequestKind
SYSTEM = system_actor("rights-decisions")  # a request answered by Confide itself (Shine the Light)

# --- outcomes and denial bases ------------------------------------------------------------------
OUTCOMES: dict[str, tuple[RequestStatus, str]] = {
    "done": (RequestStatus.DONE, "Done: we did what was asked"),
    "partly_done": (RequestStatus.PARTLY_DONE, "Partly done: part of it is refused (choose why)"),
    "denied": (RequestStatus.DECLINED, "Denied (choose why)"),
    "withdrawn": (RequestStatus.WITHDRAWN, "Withdrawn by the person who asked"),
}

_COMMON = (
    ("identity", "We could not confirm who is asking."),
    ("no_record", "We hold no information about the person the request is about."),
)
# The bases a denial may state, per kind (HIPAA §164.524(a)(2)–(3), §164.526(a)(2); CCPA §7022).
_BY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    K.SEE: (
        ("psychotherapy_notes", "The request is for psychotherapy notes, which the law leaves out of the right of access."),
        ("legal_proceedings", "The information was put together for a court case or other legal proceeding."),
        ("endanger", "A licensed health professional judged that access is reasonably likely to endanger the life or physical safety of you or someone else."),
        ("about_another", "The information names another person, and a licensed health professional judged that access is likely to cause that person substantial harm."),
    ),  # fmt: skip
    K.CORRECT: (
        ("not_created_here", "We did not create the information (and whoever did can still act on your request)."),
        ("not_in_record_set", "The information is not part of the records we use to make decisions about you."),
        ("not_open_to_access", "The information is not information you have a right to see."),
        ("accurate", "We found the information accurate and complete as it is."),
    ),  # fmt: skip
    K.DELETE: (
        ("retention_duty", "The law requires us to keep medical records for a set time; they are kept apart and deleted when it ends."),
        ("legal_hold", "The information is under a legal hold and cannot be deleted while it lasts."),
    ),
    K.RESTRICT: (("not_agreed", "We are not required to agree to this restriction, and cannot agree to it."),),
    K.OTHER: (("not_a_right", "What was asked is not something the privacy laws give a right to, and we cannot do it."),),
    K.APPEAL: (("upheld", "We reviewed the earlier decision and uphold it."),),
}
_BY_KIND[K.COPY] = _BY_KIND[K.SEE]
# A denial on this basis may be reviewed by another licensed professional (§164.524(a)(3), (d)(4)).
REVIEWABLE = frozenset({"endanger", "about_another"})


def denial_bases(kind) -> tuple[tuple[str, str], ...]:
    return _BY_KIND.get(str(kind), ()) + _COMMON


def basis_label(kind, code: str) -> str:
    return dict(denial_bases(kind)).get(code, "")


# --- reading the request page ----------------------------------------------------------------
@dataclass
class TimelineItem:
    at: datetime.datetime
    label: str
    who: str


@dataclass
class LetterRow:
    id: uuid.UUID
    kind_label: str
    status_label: str
    channel: str
    sent_at: datetime.datetime


@dataclass
class RequestPage:
    row: RightsRequest
    kind_label: str
    status_label: str
    channel_label: str
    verification_label: str
    patient_name: str | None
    detail: str
    is_open: bool
    answer_due_on: datetime.date
    extended_limit: datetime.date | None
    can_extend: bool
    extend_blocked: str  # why not, in words ("" when it can)
    decided_by_name: str
    appeal_of: RightsRequest | None
    appeal_reviewer_blocked: bool  # the viewer decided the appealed request: they may not close the appeal
    bases: tuple = ()
    outcomes: tuple = ()
    reasons: tuple = ()
    letters: list[LetterRow] = field(default_factory=list)
    regime_labels: tuple = ()  # the regimes that set the deadlines, as the declaration names them
    timeline: list[TimelineItem] = field(default_factory=list)
    panel: str | None = None
    can_decide: bool = False


def _staff(actor, perm: Perm) -> StaffActor:
    if not isinstance(actor, StaffActor) or not actor.has(perm):
        raise Forbidden(perm)
    return actor


def _load(practice_id, request_id) -> RightsRequest:
    try:
        checked = uuid.UUID(str(request_id))
    except ValueError:
        raise NotFound("rights request") from None
    with tenant_context(practice_id=practice_id):
        row = RightsRequest.objects.filter(pk=checked).select_related("appeal_of").first()
    if row is None:
        raise NotFound("rights request")
    return row


def _user_names(ids) -> dict[str, str]:
    from django.contrib.auth import get_user_model

    found = get_user_model().objects.filter(pk__in=[i for i in ids if str(i).isdigit()]).values_list("pk", "display_name")
    return {str(pk): name or "A staff member" for pk, name in found}


def _extension_state(row: RightsRequest, today: datetime.date) -> tuple[datetime.date | None, str]:
    limit = extension_limit(row)
    if row.status not in OPEN_STATUSES:
        return limit, "The request is closed."
    if row.extended_at is not None:
        return limit, f"Already extended once (to {row.extended_due_on:%-d %B %Y}); the law allows one extension."
    if limit is None:
        return limit, "The law allows no extension for this kind of request."
    if today > row.due_on:
        return limit, f"The first period ended on {row.due_on:%-d %B %Y}; an extension must be sent within it."
    return limit, ""


def extension_limit(row: RightsRequest) -> datetime.date | None:
    from confide.policy.services import declaration_in_force

    received = timezone.localdate(row.received_at)
    dates = deadlines_for(declaration_in_force(row.practice_id, row.received_at), row.kind, received, state=row.state)
    return dates.extended_limit


def panel_template(kind: str) -> str | None:
    """`rights/panels/<kind>.html` when a part wrote one (the kind's own work), else None."""
    name = f"rights/panels/{kind}.html"
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


def _timeline(row: RightsRequest, letter_ids: set[str]) -> list[TimelineItem]:
    from confide.audit.models import AuditEntry

    ours = {str(row.pk)} | letter_ids
    since = row.received_at - datetime.timedelta(minutes=1)
    with tenant_context(practice_id=row.practice_id):
        entries = AuditEntry.objects.filter(practice_id=row.practice_id, at__gte=since, event__startswith="rights:")
        if row.patient_id is not None:
            entries = entries.filter(subject_id=row.patient_id) | entries.filter(subject_id__isnull=True)
        found = [e for e in entries.order_by("at", "id")[:2000] if ours & {str(r) for r in e.resource_ids}]
    names = _user_names({e.actor_id for e in found if e.actor_kind == "user"})
    items = []
    for entry in found:
        if entry.event == AuditEvent.RIGHTS_QUEUE_VIEWED:
            continue
        who = {"user": names.get(entry.actor_id, "A staff member"), "patient": "The patient", "system": "Confide"}.get(entry.actor_kind, "")
        what = event_label(entry.event)
        if entry.event == AuditEvent.RIGHTS_LETTER_SENT and entry.detail.get("kind") in LetterKind.values:
            what = f"{LetterKind(entry.detail['kind']).label} letter kept"
        items.append(TimelineItem(at=entry.at, label=what, who=who))
    return items


def get_request_page(*, actor: StaffActor, request_id, request=None) -> RequestPage:
    """One request, as the privacy officer sees it: the patient's name and what they wrote (one
    audited opening of the chart for operations: name and messages), the deadlines, the letters,
    the timeline from the audit log; one `rights:request:viewed` entry."""
    _staff(actor, Perm.RIGHTS_QUEUE_VIEW)
    row = _load(actor.practice_id, request_id)
    name, detail = None, ""
    if row.patient_id is not None:
        wanted = {policy.NAME, MESSAGES} & policy.categories_for(actor.role, Purpose.OPERATIONS)
        if wanted:
            with open_chart(actor, row.patient_id, Purpose.OPERATIONS, categories=wanted, request=request) as chart:
                if policy.NAME in wanted:
                    p = chart.patient
                    name = " ".join(x for x in (p.given_name, p.family_name) if x) or "[no name]"
                if MESSAGES in wanted:
                    detail = RightsRequest.objects.get(pk=row.pk).detail or ""
    with tenant_context(practice_id=actor.practice_id):
        letters = list(Letter.objects.filter(request=row).only("id", "kind", "status", "channel", "sent_at").order_by("sent_at"))
        record(AuditEvent.RIGHTS_REQUEST_VIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
               subject_id=row.patient_id, resource_ids=[row.pk], categories=[MESSAGES] if detail else [], request=request)  # fmt: skip
    limit, blocked = _extension_state(row, timezone.localdate())
    names = _user_names([row.decided_by_id] + ([row.appeal_of.decided_by_id] if row.appeal_of else []))
    from confide.rights.models import LetterStatus

    return RequestPage(
        row=row, kind_label=RequestKind(row.kind).label, status_label=RequestStatus(row.status).label,
        channel_label=Channel(row.channel).label, verification_label=Verification(row.verification).label,
        patient_name=name, detail=detail, is_open=row.status in OPEN_STATUSES, answer_due_on=row.answer_due_on,
        extended_limit=limit, can_extend=not blocked, extend_blocked=blocked,
        decided_by_name=names.get(str(row.decided_by_id), "") if row.decided_by_id else "",
        appeal_of=row.appeal_of,
        appeal_reviewer_blocked=bool(row.appeal_of and row.appeal_of.decided_by_id == actor.user_id),
        bases=denial_bases(row.kind), outcomes=tuple((k, v[1]) for k, v in OUTCOMES.items()),
        reasons=tuple(ExtensionReason.choices),
        letters=[LetterRow(id=x.pk, kind_label=LetterKind(x.kind).label, status_label=LetterStatus(x.status).label,
                           channel=x.channel, sent_at=x.sent_at) for x in letters],  # fmt: skip
        timeline=_timeline(row, {str(x.pk) for x in letters}),
        panel=panel_template(row.kind), can_decide=actor.has(Perm.RIGHTS_REQUEST_DECIDE),
        regime_labels=_regime_labels(row),
    )  # fmt: skip


def _regime_labels(row: RightsRequest) -> tuple:
    from confide.policy.services import declaration_in_force

    regimes = declaration_in_force(row.practice_id, row.received_at).regimes
    return tuple(getattr(getattr(regimes, key, None), "label", key) for key in row.regimes)


def get_letter(*, actor: StaffActor, letter_id, request=None) -> tuple[Letter, str]:
    """A kept letter and its text (sealed under the patient's key: read inside an audited opening)."""
    from confide.rights.letters import render_letter

    _staff(actor, Perm.RIGHTS_QUEUE_VIEW)
    try:
        checked = uuid.UUID(str(letter_id))
    except ValueError:
        raise NotFound("letter") from None
    with tenant_context(practice_id=actor.practice_id):
        letter = Letter.objects.filter(pk=checked).select_related("request").first()
    if letter is None:
        raise NotFound("letter")
    if letter.patient_id is not None:
        if MESSAGES not in policy.categories_for(actor.role, Purpose.OPERATIONS):
            raise Forbidden("reading a letter's text")
        with open_chart(actor, letter.patient_id, Purpose.OPERATIONS, categories={MESSAGES}, request=request):
            text = Letter.objects.get(pk=letter.pk).body or ""
        return letter, text
    # No body kept (a requester not yet matched): shown again from its template and dates.
    from confide.core.models import Practice

    practice = Practice.objects.filter(pk=actor.practice_id).values_list("name", flat=True).first() or ""
    return letter, render_letter(letter.template, dict(letter.context), practice_name=practice, request_row=letter.request)


# --- the declaration's contacts, for letters ------------------------------------------------------
HHS_OCR_ADDRESS = "200 Independence Avenue, S.W., Room 509F HHH Bldg., Washington, D.C. 20201"
HHS_OCR_PHONE = "1-800-368-1019"
STATE_AG: dict[str, tuple[str, str]] = {
    "CO": ("Colorado Attorney General", "https://coag.gov/file-complaint/"),
    "CT": ("Connecticut Attorney General", "https://portal.ct.gov/ag/common/complaint-form-landing-page"),
    "VA": ("Virginia Attorney General", "https://www.oag.state.va.us/consumer-protection/"),
}


def letter_contacts(practice_id, at=None) -> dict:
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(practice_id, at or timezone.now())
    officer = declaration.contacts.privacy_officer
    complaints = declaration.contacts.complaints
    return {
        "officer_title": officer.title or "Privacy officer", "officer_name": officer.name, "officer_phone": officer.phone,
        "officer_email": officer.email, "hhs_name": complaints.hhs_name, "hhs_url": complaints.hhs_url,
        "hhs_address": HHS_OCR_ADDRESS, "hhs_phone": HHS_OCR_PHONE,
    }  # fmt: skip


# --- extending --------------------------------------------------------------------------------
def do_extend(*, actor, request_id, expected_version, reason, request=None) -> RightsRequest:
    """The one extension the law allows, sent within the first period, never past the strictest
    regime's limit: the new date is that limit; the extension notice (reason and new date) is
    sent and kept (HIPAA §164.524(b)(2)(ii), §164.526(b)(2)(ii), CCPA §7021(b))."""
    _staff(actor, Perm.RIGHTS_REQUEST_DECIDE)
    try:
        checked = ExtensionReason(str(reason))
    except ValueError:
        raise InvalidInput("Choose the reason for the extension from the list.") from None
    row = _load(actor.practice_id, request_id)
    limit, blocked = _extension_state(row, timezone.localdate())
    if blocked:
        raise InvalidInput(blocked)
    now = timezone.now()
    with transaction.atomic():
        changed = transition(
            practice_id=actor.practice_id, request_id=row.pk, expected_version=_version(expected_version),
            allowed_from=OPEN_STATUSES, extended_due_on=limit, extension_reason=checked.value, extended_at=now,
        )  # fmt: skip
        with tenant_context(practice_id=actor.practice_id):
            record(AuditEvent.RIGHTS_REQUEST_EXTENDED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
                   subject_id=changed.patient_id, resource_ids=[changed.pk],
                   detail={"reason": checked.value, "due_on": limit.isoformat(), "kind": changed.kind}, request=request)  # fmt: skip
            send_letter(
                practice_id=actor.practice_id, request_row=changed, kind=LetterKind.EXTENSION, template="rights/letters/extension.txt",
                context={"reason": checked.label, "reason_code": checked.value, "first_due_on": changed.due_on, "new_due_on": limit},
                stored_context_keys=("reason_code", "first_due_on", "new_due_on"), request=request,
            )  # fmt: skip
    logger.info("rights request %s extended (%s)", changed.pk, checked.value)
    return changed


def _version(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput("The form is missing its version; reload the page.") from None


# --- closing ----------------------------------------------------------------------------------
def do_close(*, actor, request_id, expected_version, outcome, basis: str = "", request=None) -> RightsRequest:
    """Close an open request with an outcome and send its letter: done → the answer (fulfilment),
    partly done or denied → the denial with its basis, review rights and where to complain;
    withdrawn → no letter. An appeal's outcome letter names the state Attorney General."""
    actor = _staff(actor, Perm.RIGHTS_REQUEST_DECIDE)
    if str(outcome) not in OUTCOMES:
        raise InvalidInput("Choose an outcome: done, partly done, denied or withdrawn.")
    status = OUTCOMES[str(outcome)][0]
    row = _load(actor.practice_id, request_id)
    basis = str(basis or "")
    if status in (RequestStatus.DECLINED, RequestStatus.PARTLY_DONE):
        if not basis_label(row.kind, basis):
            raise InvalidInput("Choose the basis of the denial from the list: the letter must state it.")
    else:
        basis = ""
    if row.kind == K.APPEAL and row.appeal_of is not None and row.appeal_of.decided_by_id == actor.user_id:
        raise Forbidden("An appeal is decided by someone other than the person who made the decision appealed.")
    return _close(actor, row, expected_version=_version(expected_version), status=status, basis=basis, request=request)


def _close(actor, row: RightsRequest, *, expected_version: int, status: RequestStatus, basis: str = "", answer: dict | None = None,
           request=None) -> RightsRequest:  # fmt: skip
    now = timezone.now()
    with transaction.atomic():
        changed = transition(
            practice_id=row.practice_id, request_id=row.pk, expected_version=expected_version, allowed_from=OPEN_STATUSES,
            status=status, decided_at=now, decided_by_id=actor.user_id if isinstance(actor, StaffActor) else None,
        )  # fmt: skip
        with tenant_context(practice_id=row.practice_id):
            record(AuditEvent.RIGHTS_REQUEST_CLOSED, practice_id=row.practice_id, actor=actor or SYSTEM, purpose=Purpose.PATIENT_REQUEST.value,
                   subject_id=changed.patient_id, resource_ids=[changed.pk],
                   detail={"outcome": status.value, "basis": basis, "kind": changed.kind}, request=request)  # fmt: skip
            if status != RequestStatus.WITHDRAWN:
                _closing_letter(changed, status, basis, answer or {}, request)
    logger.info("rights request %s closed (%s)", changed.pk, status.value)
    return changed


def _closing_letter(row: RightsRequest, status: RequestStatus, basis: str, answer: dict, request) -> Letter:
    context = {**letter_contacts(row.practice_id), **answer, "outcome": status.value, "basis_code": basis,
               "basis": basis_label(row.kind, basis), "reviewable": basis in REVIEWABLE, "decided_on": timezone.localdate()}  # fmt: skip
    keys = ("outcome", "basis_code", "decided_on")
    if row.kind == K.APPEAL:
        ag = STATE_AG.get(row.state.upper())
        context.update(ag_name=ag[0] if ag else "your state's Attorney General", ag_url=ag[1] if ag else "", state=row.state)
        kind, template = LetterKind.APPEAL_OUTCOME, "rights/letters/appeal_outcome.txt"
    elif status == RequestStatus.DONE:
        kind, template = LetterKind.FULFILMENT, "rights/letters/fulfilment.txt"
    else:
        kind, template = LetterKind.DENIAL, "rights/letters/denial.txt"
    return send_letter(practice_id=row.practice_id, request_row=row, kind=kind, template=template, context=context,
                       stored_context_keys=keys, request=request)  # fmt: skip


# --- appeals (RTS7) ---------------------------------------------------------------------------
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD "
    "TN TX UT VT VA WA WV WI WY".split()
)


def _patient_state(actor: PatientActor, request) -> str:
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={policy.ADDRESS}, request=request) as chart:
        address = chart.patient.address if isinstance(chart.patient.address, dict) else {}
    return str(address.get("state") or address.get("region") or "").strip().upper()[:2]


def check_file_appeal(*, actor, appeal_of_id, state: str = "", request=None) -> RightsRequest:
    """Open an appeal of a decided request: from the portal (the patient's own request) or logged
    by staff. The deadline is the state's (CO 45 days, CT and VA 60): the state given, else the
    chart's address (the patient's own opening)."""
    from confide.policy.services import declaration_in_force

    if isinstance(actor, StaffActor):
        _staff(actor, Perm.RIGHTS_REQUEST_DECIDE)
    elif not isinstance(actor, PatientActor):
        raise Forbidden("an appeal is filed by the patient or logged by staff")
    original = _load(actor.practice_id, appeal_of_id)
    if isinstance(actor, PatientActor) and str(original.patient_id) != str(actor.patient_id):
        raise NotFound("rights request")
    if original.status not in CLOSED_STATUSES or original.status == RequestStatus.WITHDRAWN or original.decided_at is None:
        raise InvalidInput("Only a decided request can be appealed.")
    if original.kind == K.APPEAL:
        raise InvalidInput("An appeal's decision is final here; you may contact your state's Attorney General.")
    code = str(state or "").strip().upper()
    if code and code not in US_STATES:
        raise InvalidInput("Give the state as its two-letter code (for example CO).")
    if not code and isinstance(actor, PatientActor):
        code = _patient_state(actor, request)
        code = code if code in US_STATES else ""
    now = timezone.now()
    dates = deadlines_for(declaration_in_force(actor.practice_id, now), K.APPEAL, timezone.localdate(now), state=code)
    staff = isinstance(actor, StaffActor)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        if RightsRequest.objects.select_for_update().filter(appeal_of=original, status__in=OPEN_STATUSES).exists():
            raise InvalidInput("This decision is already under appeal.")
        made = RightsRequest.objects.create(
            practice_id=actor.practice_id, patient_id=original.patient_id, kind=K.APPEAL, status=RequestStatus.RECEIVED,
            channel=Channel.PHONE if staff else Channel.PORTAL, requested_by_id=None if staff else actor.user_id,
            by_representative=False if staff else actor.representative, logged_by_id=actor.user_id if staff else None,
            verification=Verification.STAFF if staff else Verification.SESSION, verified_at=now, received_at=now,
            regimes=list(dates.regimes), due_on=dates.due_on, appeal_of=original, state=code,
        )  # fmt: skip
        record(AuditEvent.RIGHTS_REQUEST_OPENED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
               subject_id=made.patient_id, resource_ids=[made.pk, original.pk],
               detail={"kind": K.APPEAL.value, "due_on": made.due_on.isoformat(), "state": code}, request=request)  # fmt: skip
    return made


def appeal_rule_for(appeal: RightsRequest) -> int | None:
    """The user who may NOT decide this appeal (the one who decided what it appeals)."""
    return appeal.appeal_of.decided_by_id if appeal.appeal_of_id else None


# --- on filing: opt-outs at once (RTS5), Shine the Light (RTS8) ----------------------------------
OPT_OUT_TOPICS = {K.OPT_OUT_SALE: "sale_share_opt_out", K.LIMIT_SENSITIVE: "limit_sensitive", K.OPT_OUT_PROFILING: "profiling_opt_out"}
_PROMPTS = {K.OPT_OUT_SALE: "sale-share", K.LIMIT_SENSITIVE: "limit-sensitive", K.OPT_OUT_PROFILING: "profiling"}


def on_filed(row: RightsRequest, *, actor=None, request=None) -> RightsRequest:
    """What happens the moment a request with a known patient is filed (any channel: the portal
    calls it, and so do the public form and staff logging once the patient is known)."""
    if row.patient_id is None or row.status not in OPEN_STATUSES:
        return row
    if row.kind in OPT_OUT_TOPICS:
        return apply_opt_out(row, actor=actor, request=request)
    if row.kind == K.SHINE_THE_LIGHT:
        return answer_shine_the_light(row, request=request)
    return row


def apply_opt_out(row: RightsRequest, *, actor=None, request=None) -> RightsRequest:
    """The opt-out takes effect at once (CCPA §7026/§7027: no verification, no staff action): the
    ledger records the patient's opt-out (granting an opt-out topic is the request not to do
    something), and the request closes as done with its answer."""
    from confide.access.consent import do_patient_choice
    from confide.consent import services as consent
    from confide.consent import texts
    from confide.consent.topics import Action

    kind = K(row.kind)
    subject = consent.Subject.patient(row.practice_id, row.patient_id)
    shown = texts.shown(_PROMPTS[kind], Action.GRANT)
    with transaction.atomic():
        if isinstance(actor, PatientActor):
            do_patient_choice(action=Action.GRANT, actor=actor, subject=subject, topic=OPT_OUT_TOPICS[kind], channel="portal",
                              method="form_button", shown_text=shown, request=request)  # fmt: skip
        else:  # logged by staff (by phone or on paper) or filed on the public form and matched
            method = "staff_paper" if row.channel in (Channel.LETTER, Channel.WEB_FORM, Channel.OPERATOR) else "staff_phone"
            staff = actor if isinstance(actor, StaffActor) and actor.has(Perm.CONSENT_RECORD) else None
            if staff is None and actor is None and row.channel == Channel.WEB_FORM:
                # Filed on the public form and matched by name and date of birth: no verification
                # for an opt-out (CCPA §7026/§7027); the ledger takes it as the form's button.
                from confide.consent.actors import RightsRequestActor

                consent.do_grant(actor=RightsRequestActor(row.practice_id, row.patient_id, row.pk), subject=subject,
                                 topic=OPT_OUT_TOPICS[kind], channel="web", method="form_button", shown_text=shown, request=request)  # fmt: skip
            elif staff is None:
                raise Forbidden("an opt-out not filed by the patient is recorded by a staff member who records consent")
            else:
                consent.do_grant(actor=staff, subject=subject, topic=OPT_OUT_TOPICS[kind],
                                 channel="phone" if method == "staff_phone" else "paper", method=method, shown_text=shown)  # fmt: skip
        with tenant_context(practice_id=row.practice_id):
            record(AuditEvent.RIGHTS_OPT_OUT_APPLIED, practice_id=row.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
                   subject_id=row.patient_id, resource_ids=[row.pk], detail={"topic": OPT_OUT_TOPICS[kind]}, request=request)  # fmt: skip
            fresh = RightsRequest.objects.get(pk=row.pk)
        return _close(actor, fresh, expected_version=fresh.version, status=RequestStatus.DONE,
                      answer={"opt_out_applied": True}, request=request)  # fmt: skip


def shine_the_light_categories(declaration) -> list[str]:
    """The categories of personal information disclosed to third parties for THEIR direct
    marketing (Cal. Civ. Code §1798.83): every processor is Confide itself or works for the
    practice (the schema has no third-party role, no selling purpose): none, by construction."""
    ours = {"first_party", "business_associate", "service_provider"}
    found: set[str] = set()
    for processor in declaration.processors:
        if processor.role not in ours and "marketing" in processor.purposes:
            found.update(processor.categories)
    return sorted(found)


def answer_shine_the_light(row: RightsRequest, *, request=None) -> RightsRequest:
    """Once per calendar year per person: a second one in the year is answered "already answered
    on <date>" and closed (not new work); otherwise answered at once from the declaration."""
    from confide.policy.services import declaration_in_force

    year = timezone.localdate(row.received_at).year
    with tenant_context(practice_id=row.practice_id):
        earlier = (
            RightsRequest.objects.filter(patient_id=row.patient_id, kind=K.SHINE_THE_LIGHT, status=RequestStatus.DONE,
                                         received_at__year=year, decided_at__isnull=False)  # fmt: skip
            .exclude(pk=row.pk).order_by("decided_at").first()
        )
    if earlier is not None:
        answer = {"already_answered_on": timezone.localdate(earlier.decided_at)}
    else:
        categories = shine_the_light_categories(declaration_in_force(row.practice_id, row.received_at))
        answer = {"stl_categories": ", ".join(categories), "stl_none": not categories, "year": year}
    return _close(None, row, expected_version=row.version, status=RequestStatus.DONE, answer=answer, request=request)


# --- the patient's own letters (the portal's privacy page) -----------------------------------------
def list_patient_letters(*, actor: PatientActor, limit: int = 20) -> list[LetterRow]:
    """The letters kept about the current record's requests: kinds and dates (no body)."""
    from confide.rights.models import LetterStatus

    if not isinstance(actor, PatientActor):
        raise Forbidden("a patient's own letters")
    with tenant_context(practice_id=actor.practice_id):
        rows = Letter.objects.filter(patient_id=actor.patient_id).only("id", "kind", "status", "channel", "sent_at").order_by("-sent_at")[:limit]
        return [LetterRow(id=x.pk, kind_label=LetterKind(x.kind).label, status_label=LetterStatus(x.status).label, channel=x.channel,
                          sent_at=x.sent_at) for x in rows]  # fmt: skip


def get_patient_letter(*, actor: PatientActor, letter_id, request=None) -> tuple[Letter, str]:
    """One of the current record's letters and its text, read through the door as the patient."""
    if not isinstance(actor, PatientActor):
        raise Forbidden("a patient's own letters")
    try:
        checked = uuid.UUID(str(letter_id))
    except ValueError:
        raise NotFound("letter") from None
    with tenant_context(practice_id=actor.practice_id):
        letter = Letter.objects.filter(pk=checked, patient_id=actor.patient_id).first()
    if letter is None:
        raise NotFound("letter")
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={MESSAGES}, request=request):
        text = Letter.objects.get(pk=letter.pk).body or ""
    return letter, text


def appealable(summary) -> bool:
    """Whether the portal offers "Appeal this decision" for a request (decided, not withdrawn, not an appeal)."""
    return summary.status in (RequestStatus.DONE, RequestStatus.PARTLY_DONE, RequestStatus.DECLINED) and summary.kind != K.APPEAL
