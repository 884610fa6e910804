"""Online booking requests (issue 16 item 8; MIN1, CON1, AUD1): a visitor of the practice's
website asks for a free slot, staff accept it into a chart or decline it.

    types, clinicians = bookable_types(), bookable_clinicians()
    slots = offered_slots(practice_id, clinician_id, kind)          # 30 days, minus Google busy, minus pending
    row = check_submit_booking(practice=…, data=…, client_ip=…)     # the public form
    rows = list_requests(actor)                                     # one audited list opening
    review = review_request(actor, request_id)                      # the requester's data, blind-index matches
    appointment = do_accept(actor=…, request_id=…, merge_into=None | patient id)
    do_decline(actor=…, request_id=…, reason=code)

Modelled on the online consultation (confide/records/intake.py) and reusing its mechanisms: the
hourly limit per client address (`IntakeAttempts`, counted under a key of its own), the honeypot,
the one-time form token, the contact checks, the age rule of the practice's declaration, and the
authorization recorded in the consent ledger as the applicant's (CON1). A request is a data
subject of its own until accepted: sealed under its own key, opened by staff through a door
that writes one audit entry (ids only), and shredded once accepted or declined.

What the visitor gives is the minimum to book (MIN1): name, date of birth, an e-mail address
and/or a phone number, and, if they want, a reason (sealed as consultation data: the front desk
never sees it, clinicians and the owner do).

A pending request holds its slot against other website requests: a partial unique constraint on
(clinician, start) for pending rows, so two visitors racing for one slot make one request; the
other is told the slot was just taken. It does not block staff booking in the calendar; accepting
then books through `scheduling.services.book`, whose SlotTaken says the time is no longer free.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from confide.access import door
from confide.access import policy as access_policy
from confide.access.door import CONSULT_FORM_JOB, open_patient_list, write_new_subject
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.consent import services as consent
from confide.consent.actors import ApplicantActor
from confide.consent.topics import Topic
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Perm, Role
from confide.core.purposes import Purpose
from confide.core.text import line_problem, lower_first
from confide.directory.models import REASON_MAX, BookingRequest
from confide.records import intake
from confide.records.models import UsedIntakeToken
from confide.scheduling import google
from confide.scheduling.clock import practice_zone
from confide.scheduling.models import AppointmentType, Source, WorkingHours
from confide.scheduling.slots import MIN_NOTICE, Slot, free_slots
from confide.vault import keys
from confide.vault.allowance import allow

log = logging.getLogger(__name__)

BOOKING_DAYS = 30
START_FORMAT = "%Y%m%dT%H%MZ"  # a slot's start in a URL: UTC, to the minute
PENDING = BookingRequest.Status.PENDING

AUTHORIZATION_TEXT = (
    "I authorize this practice to keep the details I give in this form (my name, date of birth, contact details and, "
    "if I give one, the reason for the appointment) to review my booking request and, if it accepts it, to book the "
    "appointment and keep them in my record. I understand that they are kept encrypted, that they are deleted if the "
    "practice declines the request, and that the practice's privacy notice explains my rights."
)
AUTHORIZATION_SCOPE = "booking-form:v1"
AUTHORIZE = "Please read the authorization and tick the box to agree: without it the practice cannot keep your request."
TAKEN = "That time was just taken by someone else, or is no longer free. Please choose another time."
PAST = "That time has passed or starts too soon to book online. Please choose a later time."
TOO_MANY = "Too many booking requests were sent from this connection. Please try again in an hour, or call the practice."
ALREADY_REVIEWED = "This booking request has already been reviewed."

# Why staff decline (a code: the audit entry and the e-mail carry this, never a typed text).
DECLINE_REASONS = {
    "time_unavailable": "The time is no longer available",
    "not_accepting": "Not accepting new patients for this",
    "wrong_service": "Not the right service",
    "duplicate": "A duplicate request",
    "other": "Another reason",
}
DECLINE_SUBJECT = "Your appointment request with {practice}"
DECLINE_BODY = (
    "Thank you for your appointment request. We are sorry, but we cannot book it, and the details you sent have "
    "been deleted.\n\nPlease contact the practice directly, or choose another time on its website. In an emergency, "
    "call 911."
)
ACCEPT_BODY = (
    "Your appointment with {practice} is booked: {when}. If you cannot come, please let the practice know."
)

# What staff see of a request: who and how to answer them (and, where the role's care grant
# holds it, the reason).
BASE_CATEGORIES = frozenset({access_policy.NAME, access_policy.DOB, access_policy.EMAIL, access_policy.PHONE, access_policy.GUARDIAN})
LIST_CATEGORIES = frozenset({access_policy.NAME})


class SlotGone(InvalidInput):
    """The slot is not free any more (another request, an appointment, the clock)."""


class TooMany(InvalidInput):
    """More requests from one client than the hourly limit."""


class AlreadyReviewed(InvalidInput):
    """Another reviewer accepted or declined the request first."""


# --- choices -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clinician:
    id: uuid.UUID
    name: str


def clinician_name(membership) -> str:
    """The clinician as the practice shows them on its website (their display name)."""
    return membership.user.display_name or "A clinician"


def bookable_types() -> list[AppointmentType]:
    return list(AppointmentType.objects.filter(is_active=True, bookable_online=True).order_by("name"))


def bookable_clinicians() -> list[Clinician]:
    """Active clinicians (and owners who see patients) with working hours, by name."""
    from confide.accounts.models import Membership

    with_hours = set(WorkingHours.objects.values_list("clinician_id", flat=True))
    members = Membership.objects.filter(pk__in=with_hours, is_active=True, role__in=(Role.CLINICIAN, Role.OWNER)).select_related("user")
    return sorted((Clinician(m.pk, clinician_name(m)) for m in members), key=lambda c: c.name.casefold())


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value or "").strip())
    except ValueError:
        return None


def chosen(data) -> tuple[AppointmentType, Clinician]:
    """The appointment type and clinician the visitor picked (ids from the query or the form)."""
    kind_id, clinician_id = _uuid(data.get("type")), _uuid(data.get("clinician"))
    kind = next((k for k in bookable_types() if k.pk == kind_id), None) if kind_id else None
    if kind is None:
        raise InvalidInput("Choose the kind of appointment from the list.")
    clinician = next((c for c in bookable_clinicians() if c.id == clinician_id), None) if clinician_id else None
    if clinician is None:
        raise InvalidInput("Choose a clinician from the list.")
    return kind, clinician


def parse_start(value) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(str(value or "").strip(), START_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise InvalidInput("Choose a time from the list.") from None


def format_start(instant: datetime.datetime) -> str:
    return instant.astimezone(datetime.UTC).strftime(START_FORMAT)


def _pending_times(clinician_id, start, end) -> list[tuple[datetime.datetime, datetime.datetime]]:
    return list(
        BookingRequest.objects.filter(clinician_id=clinician_id, status=PENDING, starts_at__lt=end, ends_at__gt=start)
        .values_list("starts_at", "ends_at")
    )


def offered_slots(practice_id, clinician_id, kind: AppointmentType, *, now: datetime.datetime | None = None) -> list[Slot]:
    """Free slots for the next BOOKING_DAYS days: working hours minus appointments and blocked
    time (free_slots), minus the clinician's Google busy blocks, minus other pending requests.
    Google unreachable: nothing is offered for that clinician (a slot Google says is busy must
    not be offered), and the page says to call."""
    now = now or timezone.now()
    zone = practice_zone(practice_id)
    start, end = now, now + datetime.timedelta(days=BOOKING_DAYS + 1)
    busy = _pending_times(clinician_id, start, end)
    try:
        busy += [(b.starts_at, b.ends_at) for b in google.busy_blocks(clinician_id, start, end)]
    except Exception:  # noqa: BLE001 - any failure of the calendar service means "not known to be free"
        log.warning("booking: busy times unavailable for clinician %s", clinician_id)
        return []
    return free_slots(clinician_id, kind.duration_minutes, now.astimezone(zone).date(), BOOKING_DAYS, busy=busy, now=now,
                      practice_id=practice_id)  # fmt: skip


def check_slot(practice_id, clinician_id, kind: AppointmentType, starts_at: datetime.datetime, *, now=None) -> Slot:
    """The offered slot starting at `starts_at`, or PAST / SlotGone."""
    now = now or timezone.now()
    if starts_at < now + MIN_NOTICE:
        raise SlotGone(PAST)
    slot = next((s for s in offered_slots(practice_id, clinician_id, kind, now=now) if s.starts_at == starts_at), None)
    if slot is None:
        raise SlotGone(TAKEN)
    return slot


# --- submitting --------------------------------------------------------------------------------
def _age_rule(practice_id, born: datetime.date, data) -> tuple[dict | None, bool]:
    """(guardian, booked by a guardian): the practice's age rule ([age] of its declaration), as
    the consultation form applies it. Below the minimum with no guardian allowed, or a minor
    without a guardian's name, relationship, contact and authorization: refused, nothing kept."""
    from confide.policy.services import declaration_in_force

    rule = declaration_in_force(practice_id).age
    age = intake.age_on(born, timezone.now().date())
    if age >= rule.guardian_until:
        return None, False
    below_minimum = age < rule.minimum
    if below_minimum and not rule.guardian_may_start_care_below_minimum:
        raise InvalidInput(
            f"This practice accepts online bookings for patients aged {rule.minimum} or over. Nothing you entered has been "
            "kept; please call the practice."
        )
    name = intake._text(data, "guardian_name", "Parent or guardian's name", required=False)
    relationship = intake._text(data, "guardian_relationship", "Relationship", required=False, limit=120)
    phone = intake._text(data, "guardian_phone", "Guardian's phone", required=False, limit=40)
    email = intake._text(data, "guardian_email", "Guardian's email", required=False, limit=254)
    authorized = data.get("guardian_authorization") in ("on", "yes", "true", "1")
    if not (name and relationship and (phone or email) and authorized):
        raise InvalidInput(
            f"The patient is {age}: for a patient under {rule.guardian_until}, a parent or guardian books the appointment. "
            "Give their name, relationship, phone or email, and tick their authorization. Nothing you entered has been kept."
        )
    guardian = {"name": name, "relationship": relationship, "phone": phone, "email": email}
    try:
        from confide.records import clinical

        clinical.Person.model_validate(guardian)
    except Exception:  # noqa: BLE001 - pydantic's ValidationError: the message below says what to check
        raise InvalidInput("Parent or guardian: check the details given.") from None
    return guardian, below_minimum


def _reason(data) -> str:
    text = (data.get("reason") or "").replace("\r\n", "\n").strip()
    if len(text) > REASON_MAX:
        raise InvalidInput(f"Reason: at most {REASON_MAX} characters.")
    problem = line_problem(text, multiline=True) if text else None
    if problem:
        raise InvalidInput(f"Reason: {lower_first(problem[1])}")
    return text


def _count_attempt(practice_id, client_ip: str) -> None:
    """The consultation form's hourly counter, under a key of its own (a booking does not use up
    the visitor's consultations)."""
    try:
        intake._count_attempt(practice_id, f"booking|{client_ip or ''}")
    except intake.TooMany:
        raise TooMany(TOO_MANY) from None


def check_submit_booking(*, practice, data, client_ip: str, request=None, now=None) -> BookingRequest:
    """Validate, cheapest first, then keep the request (sealed, with the authorization in the
    ledger and one audit entry), in one transaction whose first statement claims the form's
    token. Raises intake.Honeypot, intake.AlreadyReceived, TooMany, SlotGone, FormInvalid."""
    _count_attempt(practice.id, client_ip)
    if (data.get("website") or "").strip():
        record(AuditEvent.BOOKING_REQUEST_REFUSED, practice_id=practice.id, actor=system_actor(CONSULT_FORM_JOB.name), reason="honeypot")
        raise intake.Honeypot
    nonce = intake._token_nonce(practice, data)
    if UsedIntakeToken.objects.filter(nonce=nonce).exists():
        raise intake.AlreadyReceived
    kind, clinician = chosen(data)
    starts_at = parse_start(data.get("start"))
    problems = intake._Problems()
    contact = intake._contact(data, problems)
    guardian, by_guardian = None, False
    born = contact.date_of_birth if contact else problems.check("date_of_birth", intake._born, data)
    if born is not None:
        before = len(problems.errors)
        guardian, by_guardian = problems.check("guardian", _age_rule, practice.id, born, data) or (None, False)
        if len(problems.errors) > before and "aged" in problems.errors[-1][1]:
            record(AuditEvent.BOOKING_REQUEST_REFUSED, practice_id=practice.id, actor=system_actor(CONSULT_FORM_JOB.name), reason="age")
    reason = problems.check("reason", _reason, data)
    if data.get("authorize") not in ("on", "yes", "true", "1"):
        problems.add("authorize", AUTHORIZE)
    problems.raise_any()
    slot = check_slot(practice.id, clinician.id, kind, starts_at, now=now)

    request_id = uuid.uuid4()
    categories = {access_policy.NAME, access_policy.DOB}
    categories |= {c for c, v in ((access_policy.EMAIL, contact.email), (access_policy.PHONE, contact.phone)) if v}
    categories |= ({access_policy.GUARDIAN} if guardian else set()) | ({access_policy.INTAKE} if reason else set())
    with write_new_subject(CONSULT_FORM_JOB.for_practice(practice.id), Purpose.TREATMENT, categories=categories, subject_id=request_id):
        intake._use_token(practice.id, nonce)  # first: a double submit stops before anything is written
        # Under SQLite's writer lock this sees every committed request; on PostgreSQL the
        # constraint below decides between two that commit at once.
        if _pending_times(clinician.id, slot.starts_at, slot.ends_at):
            raise SlotGone(TAKEN)
        row = BookingRequest(
            id=request_id, practice_id=practice.id, clinician_id=clinician.id, appointment_type=kind,
            starts_at=slot.starts_at, ends_at=slot.ends_at, submitted_by_guardian=by_guardian,
            authorization_hash=hashlib.sha256(AUTHORIZATION_TEXT.encode()).hexdigest(),
        )  # fmt: skip
        row.given_name, row.family_name, row.date_of_birth = contact.given_name, contact.family_name, contact.date_of_birth
        row.email, row.phone = contact.email or None, contact.phone or None
        row.guardian = guardian
        row.reason = reason or None
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:  # the id is new: only the slot's constraint can refuse it
            raise SlotGone(TAKEN) from None
        # CON1: kept only with the authorization, in the ledger as the applicant's, with the
        # hash of the exact text shown.
        consent.do_grant(
            actor=ApplicantActor(practice.id, request_id), subject=consent.Subject.applicant(practice.id, request_id),
            topic=Topic.CONSULTATION_AUTHORIZATION, channel="web", method="form_button", shown_text=AUTHORIZATION_TEXT,
            scope=AUTHORIZATION_SCOPE, request=request,
        )  # fmt: skip
        record(
            AuditEvent.BOOKING_REQUEST_RECEIVED, practice_id=practice.id, actor=system_actor(CONSULT_FORM_JOB.name),
            purpose=Purpose.TREATMENT.value, subject_id=request_id, resource_ids=[clinician.id, kind.pk], categories=categories,
            detail={"guardian": bool(guardian)},
        )  # fmt: skip
    return row


# --- the door for staff --------------------------------------------------------------------------
def _check_reviewer(actor) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.BOOKING_REQUESTS_REVIEW):
        raise Forbidden(Perm.BOOKING_REQUESTS_REVIEW)


def _categories(actor) -> frozenset[str]:
    """What this role sees of a request: who and how to reach them; the reason only where its
    care grant holds consultation data (clinicians, the owner; not the front desk)."""
    granted = access_policy.categories_for(actor.role, Purpose.TREATMENT)
    return BASE_CATEGORIES | ({access_policy.INTAKE} if access_policy.INTAKE in granted else frozenset())


@contextmanager
def open_booking_request(actor, request_id, *, categories=None, request=None):
    """Staff opening one pending request, as door.open_intake opens a consultation: the actor's
    membership re-read, the request in the actor's practice (another practice's is the same
    NotFound), the categories within the role's grant; one `directory:booking:opened` entry
    (ids only) and an allowance bound to the request's own key."""
    attempt = door._Attempt.start(actor, request)
    door._check_actor(attempt)
    with door.acting_in_practice(attempt):
        purpose = door._check_purpose(attempt, Purpose.TREATMENT)
        wanted = door._check_known_categories(attempt, categories if categories is not None else _categories(actor))
        role = door._check_membership(attempt)
        pk = door._as_uuid(request_id)
        attempt.subject_id = pk
        row = BookingRequest.objects.filter(pk=pk, status=PENDING).first() if pk is not None else None
        if row is None:
            raise attempt.refuse("not_found", "booking request", not_found=True)
        granted, _ = door._check_grant(attempt, role, purpose, wanted, None)
        record(AuditEvent.BOOKING_REQUEST_OPENED, practice_id=row.practice_id, actor=attempt.audit_actor, purpose=purpose.value,
               subject_id=row.pk, categories=granted, request=request)  # fmt: skip
        with transaction.atomic(), allow(granted, subjects={row.pk}):
            yield row


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    received_at: datetime.datetime
    name: str
    starts_at: datetime.datetime
    clinician: str
    kind: str
    guardian: bool


def list_requests(actor, *, request=None) -> list[Row]:
    """Pending requests, soonest slot first, with the requester's name: ONE audited list opening
    (`directory:booking:listed`, resource_ids naming every request shown)."""
    _check_reviewer(actor)
    attempt = door._Attempt.start(actor, request)
    door._check_actor(attempt)
    with door.acting_in_practice(attempt):
        purpose = door._check_purpose(attempt, Purpose.TREATMENT)
        wanted = door._check_known_categories(attempt, LIST_CATEGORIES)
        role = door._check_membership(attempt)
        granted, _ = door._check_grant(attempt, role, purpose, wanted, None)
        rows = list(BookingRequest.objects.filter(status=PENDING).select_related("clinician__user", "appointment_type").order_by("starts_at"))
        record(AuditEvent.BOOKING_REQUEST_LISTED, practice_id=attempt.practice_id, actor=attempt.audit_actor, purpose=purpose.value,
               resource_ids=[r.pk for r in rows], categories=granted, detail={"count": len(rows)}, request=request)  # fmt: skip
        with transaction.atomic(), allow(granted, subjects={r.pk for r in rows}):
            return [Row(r.pk, r.created_at, f"{r.given_name} {r.family_name}", r.starts_at, clinician_name(r.clinician),
                        r.appointment_type.name, r.submitted_by_guardian) for r in rows]  # fmt: skip


def pending_count() -> int:
    """For the navigation's badge: a count, no person's data."""
    return BookingRequest.objects.filter(status=PENDING).count()


@dataclass
class Review:
    id: uuid.UUID
    received_at: datetime.datetime
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    clinician: str
    kind: str
    given_name: str
    family_name: str
    date_of_birth: datetime.date
    age: int
    email: str
    phone: str
    guardian: dict | None
    reason: str | None  # None: this role does not see it
    candidates: list  # (patient id, display name, why)


def review_request(actor, request_id, *, request=None) -> Review:
    """A request's page: what the requester gave, and the charts it may belong to, found by
    blind index (name and date of birth, e-mail, phone), opened as one list."""
    _check_reviewer(actor)
    with open_booking_request(actor, request_id, request=request) as r:
        shows_reason = access_policy.INTAKE in _categories(actor)
        review = Review(
            id=r.pk, received_at=r.created_at, starts_at=r.starts_at, ends_at=r.ends_at, clinician=clinician_name(r.clinician),
            kind=r.appointment_type.name, given_name=str(r.given_name), family_name=str(r.family_name),
            date_of_birth=r.date_of_birth, age=intake.age_on(r.date_of_birth, timezone.now().date()), email=r.email or "",
            phone=r.phone or "", guardian=r.guardian, reason=(r.reason or "") if shows_reason else None, candidates=[],
        )  # fmt: skip
        contact = {"email": review.email, "phone": review.phone, "date_of_birth": r.date_of_birth, "family_name": review.family_name}
        found = intake._duplicate_ids(r.practice_id, contact)
    if found:
        with open_patient_list(actor, Purpose.OPERATIONS, list(found), categories={"identifiers.name", "identifiers.dob"}, request=request) as patients:
            review.candidates = [(p.pk, f"{p.given_name} {p.family_name}", found[p.pk], p.date_of_birth) for p in patients]
    return review


# --- accept and decline ------------------------------------------------------------------------
def _when(starts_at: datetime.datetime, practice_id) -> str:
    local = starts_at.astimezone(practice_zone(practice_id))
    return f"{local:%A %-d %B %Y at %-H:%M} ({local.tzname()})"


def do_accept(*, actor, request_id, merge_into=None, request=None):
    """Book the requested slot for a chart: an existing patient's (`merge_into`, found by blind
    index; their chart gains only what it lacks) or a new one made of the request. The
    authorization becomes the patient's (the same text, its original time); the request's key is
    shredded once this commits. SlotTaken (the calendar's) if the time was booked meanwhile:
    nothing is written, the request stays to be declined. The requester is then told through
    the send gate (`send_message`): by e-mail if they gave one, else by text. Returns the
    appointment and whether the message went."""
    from confide.records import services
    from confide.scheduling import services as scheduling

    _check_reviewer(actor)
    if merge_into is not None:
        merge_into = _uuid(merge_into)
        if merge_into is None:
            raise InvalidInput("The chart to book it for is not a patient of this practice; choose one from the list.")
    _not_reviewed_yet(request_id)
    with open_booking_request(actor, request_id, categories=BASE_CATEGORIES, request=request) as r:
        identity = {
            "given_name": str(r.given_name), "family_name": str(r.family_name), "date_of_birth": r.date_of_birth,
            "email": r.email or None, "phone": r.phone or None, "guardian": intake_guardian(r.guardian),
        }  # fmt: skip
        slot = (r.clinician_id, r.appointment_type_id, r.starts_at, r.ends_at)
        given = consent.state(consent.Subject.applicant(r.practice_id, r.pk), Topic.CONSULTATION_AUTHORIZATION)
        if not given.granted:  # CON1: nothing without the recorded authorization
            raise InvalidInput("This request has no recorded authorization; it cannot be accepted.")
    with transaction.atomic():
        row = BookingRequest.objects.select_for_update().filter(pk=request_id, status=PENDING).first()
        if row is None:
            raise AlreadyReviewed(ALREADY_REVIEWED)
        if merge_into is not None:
            door.locks.lock_patient(merge_into)
            patient = services.access_patient_by_id(actor, merge_into)
            intake._merge_identity(actor, patient.pk, identity, request)
        else:
            patient = services.do_create_patient(actor=actor, request=request, **{k: v for k, v in identity.items() if v})
        appointment = scheduling.book(
            actor, patient_id=patient.pk, clinician_id=slot[0], appointment_type_id=slot[1], starts_at=slot[2], ends_at=slot[3],
            source=Source.WEBSITE, request=request,
        )  # fmt: skip
        consent.do_grant(
            actor=actor, subject=consent.Subject.patient(actor.practice_id, patient.pk), topic=Topic.CONSULTATION_AUTHORIZATION,
            channel="web", method="import", shown_text=AUTHORIZATION_TEXT, occurred_at=given.last_at, scope=f"booking:{request_id}",
            request=request,
        )  # fmt: skip
        BookingRequest.objects.filter(pk=row.pk).update(
            status=BookingRequest.Status.ACCEPTED, patient=patient, appointment=appointment, reviewed_by_id=actor.user_id,
            reviewed_at=timezone.now(), updated_at=timezone.now(),
        )  # fmt: skip
        record(AuditEvent.BOOKING_REQUEST_ACCEPTED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
               subject_id=patient.pk, resource_ids=[row.pk, appointment.pk], detail={"merged": merge_into is not None},
               request=request)  # fmt: skip
        practice_id, pk = row.practice_id, row.pk
        transaction.on_commit(lambda: _shred(practice_id, pk))
    told = _tell_booked(actor, patient.pk, identity, appointment, request)
    return appointment, told


def _shred(practice_id, request_id) -> None:
    """After the commit: the request's key goes, so nothing it held is readable anywhere."""
    from confide.core.tenancy import tenant_context

    with tenant_context(practice_id=practice_id):
        keys.shred_subject(practice_id, request_id)


def _not_reviewed_yet(request_id) -> None:
    """AlreadyReviewed for a request another reviewer accepted first (a declined one is gone:
    the door's NotFound)."""
    if BookingRequest.objects.filter(pk=_uuid(request_id), status=BookingRequest.Status.ACCEPTED).exists():
        raise AlreadyReviewed(ALREADY_REVIEWED)


def intake_guardian(guardian: dict | None) -> dict | None:
    """The request's guardian as the chart's guardian (clinical.Person: name, relationship, phone, email)."""
    if not guardian:
        return None
    return {k: v for k, v in guardian.items() if k in ("name", "relationship", "phone", "email") and v}


def _tell_booked(actor, patient_id, identity: dict, appointment, request) -> bool:
    """The confirmation through the send gate: time and practice only, no clinical detail. A
    refusal by the gate (no consent for texts, quiet hours) is on record there; the page says
    to call instead."""
    from confide.core.models import Practice
    from confide.messaging.models import Status as MessageStatus
    from confide.messaging.services import send_message

    channel = "email" if identity.get("email") else "sms" if identity.get("phone") else ""
    if not channel:
        return False
    practice = Practice.objects.get(pk=actor.practice_id)
    body = ACCEPT_BODY.format(practice=practice.name, when=_when(appointment.starts_at, actor.practice_id))
    try:
        message = send_message(actor, patient_id=patient_id, channel=channel, topic="staff_reply", body=body, request=request)
    except InvalidInput:
        log.info("booking: confirmation not sent for appointment %s", appointment.pk)
        return False
    return message.status != MessageStatus.REFUSED


def do_decline(*, actor, request_id, reason: str, request=None) -> bool:
    """Delete the request and shred its key. The requester is not a patient, so they are told
    the way a rejected consultation is (records/intake.py do_reject): a fixed text that says
    nothing about their health, by e-mail once the decline commits, if they gave an address and
    the egress gate lets e-mail carry it. The audit entry has the reason's code, never a text.
    Returns whether an e-mail was sent."""
    from django.core.mail import send_mail

    from confide.core.models import Practice
    from confide.policy.egress import EgressRefused, check_egress

    _check_reviewer(actor)
    if reason not in DECLINE_REASONS:
        raise InvalidInput("Choose why the request is declined.")
    _not_reviewed_yet(request_id)
    with open_booking_request(actor, request_id, categories={access_policy.NAME, access_policy.EMAIL}, request=request) as r:
        email = r.email or ""
        row = BookingRequest.objects.select_for_update().filter(pk=r.pk, status=PENDING).first()
        if row is None:
            raise AlreadyReviewed(ALREADY_REVIEWED)
        if email:
            try:
                check_egress(practice_id=actor.practice_id, processor_id="email", purpose=Purpose.TREATMENT, categories={"contact.email"},
                             actor=actor, subject_ids=[row.pk], request=request)  # fmt: skip
            except EgressRefused:
                email = ""
        practice_id, pk = row.practice_id, row.pk
        row.delete()
        record(AuditEvent.BOOKING_REQUEST_DECLINED, practice_id=practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
               subject_id=pk, detail={"reason": reason, "told": bool(email)}, request=request)  # fmt: skip
        transaction.on_commit(lambda: _shred(practice_id, pk))
        if email:
            subject = DECLINE_SUBJECT.format(practice=Practice.objects.get(pk=actor.practice_id).name)
            transaction.on_commit(lambda: send_mail(subject, DECLINE_BODY, None, [email]), robust=True)
    return bool(email)
