"""Amendments (RTS3, HIPAA §164.526; ../shared/reference/rules-and-deadlines.md §1.2 M1–M11).

    start_amendment(actor=StaffActor, request_id=…, target=…, asked=…, expected_version=…)  -> Amendment
    accept_amendment(actor=…, request_id=…, expected_version=…, text=…, named_recipients=…) -> AcceptOutcome
    deny_amendment(actor=…, request_id=…, expected_version=…, basis=…, explanation=…)      -> Amendment
    file_disagreement(actor=PatientActor, amendment_id=…, text=…)                           -> Disagreement
    write_rebuttal(actor=StaffActor, request_id=…, text=…)                                  -> Rebuttal
    amendment_view(actor=StaffActor, request_id=…)                                          -> AmendmentView | None
    patient_amendments(actor=PatientActor)                                                  -> list[PatientAmendment]
    disputes_for(practice_id, patient_id)                                                   -> list[Dispute]  (no content)
    packet_for(practice_id, patient_id, categories)  (inside an opening that grants messages) -> list[PacketItem]

A `correct` request is reviewed by someone who reads the disputed part for treatment (an owner
or a clinician: Perm.AMENDMENT_DECIDE); the privacy officer sees the status, never the content.
The disputed part is referenced by model label, row id, field and category, so an edit of the
part keeps the link (M9). Every decision is a conditional update of the request's version (a
stale page gets ChangedMeanwhile: 409) made inside the reviewer's opening of the chart for
update, with the record's change (a signed addendum to a note citing the amendment, or a field
changed with the recorded reason `patient_request`), the letters and the audit entries in the
same transaction: all of it happens or none of it does.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import AMENDMENT_JOB, open_chart
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.core.text import multi_line
from confide.rights.letters import keep_letter
from confide.rights.models import (
    AMENDMENT_TEXT_MAX, OPEN_STATUSES, Amendment, AmendmentStatus, DenialBasis, Disagreement, LetterKind, LetterStatus,
    Rebuttal, RequestKind, RequestStatus, RightsRequest,
)  # fmt: skip
from confide.rights.services import ChangedMeanwhile, transition

MESSAGES = policy.MESSAGES
NOTE_MODEL = "records.ProgressNote"
PATIENT_MODEL = "records.Patient"
# The patient's record fields an amendment may name (a free-text part; lists and notes are
# amended by addendum). A field of the chart: its label and its category.
AMENDABLE_FIELDS = {"health_background": ("Health background", policy.BACKGROUND)}
RECIPIENTS_MAX = 10


class AlreadyDecided(ChangedMeanwhile):
    """The amendment was decided meanwhile (another reviewer): 409."""


# --- checks ----------------------------------------------------------------------------------
def _reviewer(actor) -> StaffActor:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.AMENDMENT_DECIDE):
        raise Forbidden(Perm.AMENDMENT_DECIDE)
    return actor


def clean_text(value, label: str, *, limit: int = AMENDMENT_TEXT_MAX, required: bool = True) -> str:
    text = (value if isinstance(value, str) else "").replace("\r\n", "\n").strip()
    if required and not text:
        raise InvalidInput(f"{label}: please write something.")
    if len(text) > limit:
        raise InvalidInput(f"{label}: please keep it to {limit:,} characters or fewer (it is {len(text):,}).")
    try:
        multi_line(text)
    except ValidationError as exc:
        raise InvalidInput(f"{label}: {' '.join(exc.messages)}") from None
    return text


def _request(practice_id, request_id) -> RightsRequest:
    try:
        pk = uuid.UUID(str(request_id))
    except ValueError:
        raise NotFound("rights request") from None
    with tenant_context(practice_id=practice_id):
        row = RightsRequest.objects.filter(pk=pk).first()
    if row is None or row.kind != RequestKind.CORRECT or row.patient_id is None:
        raise NotFound("rights request")
    return row


def _amendment_of(practice_id, request_row) -> Amendment:
    with tenant_context(practice_id=practice_id):
        found = Amendment.objects.filter(request=request_row).first()
    if found is None:
        raise InvalidInput("Choose first which part of the record the request is about.")
    return found


def _version(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput("The page is out of date. Reload it and try again.") from None


@dataclass(frozen=True)
class Target:
    model: str
    id: uuid.UUID
    field: str
    category: str


def parse_target(practice_id, patient_id, value) -> Target:
    """"note:<uuid>" (a signed progress note of this patient) or "field:<name>" (AMENDABLE_FIELDS)."""
    from confide.records.models import NoteStatus, ProgressNote

    kind, _, rest = str(value or "").partition(":")
    if kind == "field" and rest in AMENDABLE_FIELDS:
        return Target(PATIENT_MODEL, uuid.UUID(str(patient_id)), rest, AMENDABLE_FIELDS[rest][1])
    if kind == "note":
        try:
            note_id = uuid.UUID(rest)
        except ValueError:
            note_id = None
        if note_id is not None:
            with tenant_context(practice_id=practice_id):
                ok = ProgressNote.objects.filter(pk=note_id, patient_id=patient_id, status=NoteStatus.SIGNED).exists()
            if ok:
                return Target(NOTE_MODEL, note_id, "", policy.NOTES)
    raise InvalidInput("Choose the part of the record the request is about from the list.")


def target_choices(practice_id, patient_id) -> list[tuple[str, str]]:
    """The parts an amendment may name: the amendable fields and the signed notes (dates only)."""
    from confide.records.models import NoteStatus, ProgressNote

    choices = [(f"field:{name}", label) for name, (label, _) in AMENDABLE_FIELDS.items()]
    with tenant_context(practice_id=practice_id):
        notes = ProgressNote.objects.filter(patient_id=patient_id, status=NoteStatus.SIGNED).only("id", "signed_at").order_by("-signed_at")[:100]
        choices += [(f"note:{n.pk}", f"Progress note signed {timezone.localtime(n.signed_at):%Y-%m-%d %H:%M}") for n in notes]
    return choices


def target_label(amendment: Amendment) -> str:
    if amendment.target_model == PATIENT_MODEL:
        return AMENDABLE_FIELDS.get(amendment.target_field, (amendment.target_field, ""))[0]
    if amendment.target_model == NOTE_MODEL:
        from confide.records.models import ProgressNote

        with tenant_context(practice_id=amendment.practice_id):
            signed = ProgressNote.objects.filter(pk=amendment.target_id).values_list("signed_at", flat=True).first()
        return f"Progress note signed {timezone.localtime(signed):%Y-%m-%d}" if signed else "Progress note"
    return "Part of the record"


def _audit(event, actor, amendment: Amendment, *, resource_ids=(), detail=None, categories=(MESSAGES,), purpose=Purpose.TREATMENT, request=None):
    record(
        event, practice_id=amendment.practice_id, actor=actor, purpose=purpose.value, subject_id=amendment.patient_id,
        resource_ids=[amendment.request_id, amendment.pk, *resource_ids], categories=list(categories), detail=detail or {},
        request=request,
    )  # fmt: skip


# --- starting the review ---------------------------------------------------------------------
def start_amendment(*, actor, request_id, target, asked: str = "", expected_version, request=None) -> Amendment:
    """Name the part of the record a `correct` request disputes and what the patient asks
    (by default what the patient typed with the request); the request moves to in progress."""
    actor = _reviewer(actor)
    row = _request(actor.practice_id, request_id)
    version = _version(expected_version)
    chosen = parse_target(actor.practice_id, row.patient_id, target)
    with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={chosen.category, MESSAGES}, request=request, for_update=True):
        text = asked if isinstance(asked, str) and asked.strip() else (RightsRequest.objects.get(pk=row.pk).detail or "")
        text = clean_text(text, "What the patient asks to change")
        transition(practice_id=actor.practice_id, request_id=row.pk, expected_version=version, allowed_from=OPEN_STATUSES,
                   status=RequestStatus.IN_PROGRESS)  # fmt: skip
        try:
            with transaction.atomic():
                made = Amendment.objects.create(
                    practice_id=actor.practice_id, request_id=row.pk, patient_id=row.patient_id, target_model=chosen.model,
                    target_id=chosen.id, target_field=chosen.field, target_category=chosen.category, asked=text,
                )  # fmt: skip
        except IntegrityError:
            raise AlreadyDecided("This request's review has already started. Reload the page.") from None
        _audit(AuditEvent.AMENDMENT_STARTED, actor, made, detail={"target": chosen.model, "category": chosen.category}, request=request)
    return made


# --- accepting -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AcceptOutcome:
    amendment: Amendment
    recipients: list[str]  # whom the practice told (letters kept, to print where no e-mail)


def _recipients(practice_id, patient_id, category: str, named: list[str], request) -> list[str]:
    """The people the patient names, then the known recipients of the disputed part (the
    accounting of disclosures: entries whose categories include it), each once."""
    from confide.disclosures.models import Disclosure
    from confide.disclosures.services import accounting_entries

    entries = accounting_entries(practice_id=practice_id, patient_id=patient_id, request=request, include_excluded=True)
    with tenant_context(practice_id=practice_id):
        cats = dict(Disclosure.objects.filter(pk__in=[e.id for e in entries]).values_list("id", "categories"))
    known = [e.recipient for e in entries if category in (cats.get(e.id) or [])]
    seen, out = set(), []
    for name in [*named, *known]:
        key = name.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(name.strip())
    return out


def parse_named(value) -> list[str]:
    lines = [line.strip() for line in str(value or "").splitlines() if line.strip()]
    if len(lines) > RECIPIENTS_MAX:
        raise InvalidInput(f"Name at most {RECIPIENTS_MAX} people to tell, one per line.")
    return [clean_text(line, "People to tell", limit=300) for line in lines]


def accept_amendment(*, actor, request_id, expected_version, text, named_recipients=(), request=None) -> AcceptOutcome:
    """M5: amend the record (linked), tell the patient, tell the people the patient names and
    the known recipients of that part. One transaction; a second decision gets 409."""
    from confide.records.models import Addendum, ProgressNote
    from confide.records.notes import _sign_addendum

    actor = _reviewer(actor)
    row = _request(actor.practice_id, request_id)
    version = _version(expected_version)
    amendment = _amendment_of(actor.practice_id, row)
    wording = clean_text(text, "The amendment")
    named = parse_named("\n".join(named_recipients) if not isinstance(named_recipients, str) else named_recipients)
    category = amendment.target_category
    now = timezone.now()
    with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={category, MESSAGES}, request=request, for_update=True) as chart:
        decided = transition(practice_id=actor.practice_id, request_id=row.pk, expected_version=version, allowed_from=OPEN_STATUSES,
                             status=RequestStatus.DONE, decided_at=now, decided_by_id=actor.user_id)  # fmt: skip
        if Amendment.objects.filter(pk=amendment.pk, status=AmendmentStatus.PENDING).update(status=AmendmentStatus.ACCEPTED, reviewer_id=actor.user_id, decided_at=now) != 1:
            raise AlreadyDecided("This request was decided meanwhile. Reload the page.")
        cite = f"Amended at the patient's request (amendment {amendment.pk}, accepted {timezone.localdate(now):%Y-%m-%d}): {wording}"
        if amendment.target_model == NOTE_MODEL:
            note = ProgressNote.objects.get(pk=amendment.target_id, patient_id=row.patient_id)
            made = _sign_addendum(Addendum, note, chart.patient, actor, cite, policy.NOTES, request)
            amended_id = made.pk
        else:
            name = amendment.target_field
            before = getattr(chart.patient, name) or ""
            setattr(chart.patient, name, (before.rstrip() + "\n\n" + cite).strip())
            chart.patient.save(update_fields=[name, "updated_at"])
            chart.record_change([name], "patient_request")
            amended_id = row.patient_id
        amendment = Amendment.objects.get(pk=amendment.pk)
        amendment.amended_resource_id = amended_id
        amendment.explanation = wording
        amendment.save(update_fields=["amended_resource_id", "explanation", "updated_at"])
        _audit(AuditEvent.AMENDMENT_DECIDED, actor, amendment, resource_ids=[amended_id], categories=(category, MESSAGES),
               detail={"outcome": "accepted", "category": category}, request=request)  # fmt: skip
        recipients = _recipients(actor.practice_id, row.patient_id, category, named, request)
        part = target_label(amendment)
        keep_letter(
            practice_id=actor.practice_id, request_row=decided, kind=LetterKind.AMENDMENT_OUTCOME,
            template="rights/letters/amendment_accepted.txt", status=LetterStatus.TO_PRINT, channel="post",
            context={"part": part, "amendment": wording, "decided_on": timezone.localdate(now), "recipients": recipients,
                     "received_on": timezone.localdate(row.received_at)},
            stored_context_keys=("decided_on", "received_on"), request=request,
        )  # fmt: skip
        for name in recipients:
            keep_letter(
                practice_id=actor.practice_id, request_row=decided, kind=LetterKind.AMENDMENT_OUTCOME,
                template="rights/letters/amendment_recipient.txt", status=LetterStatus.TO_PRINT, channel="post",
                context={"recipient": name, "part": part, "amendment": wording, "decided_on": timezone.localdate(now)},
                stored_context_keys=("decided_on",), request=request,
            )  # fmt: skip
    return AcceptOutcome(amendment, recipients)


# --- denying ---------------------------------------------------------------------------------
def complaint_contacts(practice_id) -> dict:
    """M6(iv): how to complain to the practice (the privacy officer's title, name and phone from
    the declaration in force; the practice's own phone when the officer has none) and to HHS."""
    from confide.core.models import Practice
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(practice_id, timezone.now())
    officer = declaration.contacts.privacy_officer
    practice = Practice.objects.filter(pk=practice_id).first()
    phone = officer.phone or getattr(practice, "phone", "") or ""
    if not phone:
        raise InvalidInput(
            "A denial letter must give the phone number of the person who takes complaints (45 CFR 164.526(d)(1)(iv)). "
            "Add the privacy officer's phone number in the privacy settings, then deny the request."
        )
    return {
        "officer_title": officer.title, "officer_name": officer.name, "officer_phone": phone, "officer_email": officer.email,
        "hhs_name": declaration.contacts.complaints.hhs_name, "hhs_url": declaration.contacts.complaints.hhs_url,
    }  # fmt: skip


def parse_basis(value) -> DenialBasis:
    try:
        return DenialBasis(str(value))
    except ValueError:
        raise InvalidInput("Choose the reason for the denial from the list.") from None


def deny_amendment(*, actor, request_id, expected_version, basis, explanation="", request=None) -> Amendment:
    """M4/M6: a written denial stating the basis, the right to a statement of disagreement and
    how to file it, that without one the patient may ask that the request and the denial go
    with future disclosures, and how to complain to the practice and to HHS."""
    actor = _reviewer(actor)
    row = _request(actor.practice_id, request_id)
    version = _version(expected_version)
    amendment = _amendment_of(actor.practice_id, row)
    checked = parse_basis(basis)
    why = clean_text(explanation, "The explanation", required=False)
    category = amendment.target_category
    now = timezone.now()
    contacts = complaint_contacts(actor.practice_id)  # refuses, before anything is written, without a phone
    with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={category, MESSAGES}, request=request, for_update=True):
        decided = transition(practice_id=actor.practice_id, request_id=row.pk, expected_version=version, allowed_from=OPEN_STATUSES,
                             status=RequestStatus.DECLINED, decided_at=now, decided_by_id=actor.user_id)  # fmt: skip
        if Amendment.objects.filter(pk=amendment.pk, status=AmendmentStatus.PENDING).update(
            status=AmendmentStatus.DENIED, reviewer_id=actor.user_id, decided_at=now, denial_basis=checked.value
        ) != 1:  # fmt: skip
            raise AlreadyDecided("This request was decided meanwhile. Reload the page.")
        amendment = Amendment.objects.get(pk=amendment.pk)
        if why:
            amendment.explanation = why
            amendment.save(update_fields=["explanation", "updated_at"])
        _audit(AuditEvent.AMENDMENT_DECIDED, actor, amendment, detail={"outcome": "denied", "basis": checked.value, "category": category},
               request=request)  # fmt: skip
        keep_letter(
            practice_id=actor.practice_id, request_row=decided, kind=LetterKind.DENIAL, template="rights/letters/amendment_denied.txt",
            status=LetterStatus.TO_PRINT, channel="post",
            context={"part": target_label(amendment), "basis": checked.label, "basis_code": checked.value, "explanation": why,
                     "decided_on": timezone.localdate(now), "received_on": timezone.localdate(row.received_at),
                     "disagreement_max": AMENDMENT_TEXT_MAX, **contacts},
            stored_context_keys=("basis_code", "decided_on", "received_on"), request=request,
        )  # fmt: skip
    return amendment


# --- the patient's statement of disagreement ---------------------------------------------------
def file_disagreement(*, actor, amendment_id, text, record=None, request=None) -> Disagreement:
    """M7: the patient (or their representative) files a statement of disagreement with a
    denial, at most AMENDMENT_TEXT_MAX characters; one per amendment."""
    if not isinstance(actor, PatientActor) or actor.user_id is None:
        raise Forbidden("a statement of disagreement is filed by a signed-in portal account")
    try:
        pk = uuid.UUID(str(amendment_id))
    except ValueError:
        raise NotFound("amendment") from None
    # Someone else's amendment answers 404 before anything about the input is said.
    with tenant_context(practice_id=actor.practice_id):
        amendment = Amendment.objects.filter(pk=pk, patient_id=actor.patient_id).first()
    if amendment is None:
        raise NotFound("amendment")
    if record is not None and str(record) != str(actor.link_id):
        raise InvalidInput("This page was for another record. Nothing was sent. Please look again.")
    statement = clean_text(text, "Your statement")
    # As the patient: the door re-reads the account's link (ended, another's record: NotFound).
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={policy.NAME}, request=request) as chart:
        patient_id = chart.patient.pk
    if amendment.status != AmendmentStatus.DENIED:
        raise InvalidInput("A statement of disagreement answers a denial; this request was not denied.")
    job = AMENDMENT_JOB.for_practice(actor.practice_id)
    try:
        with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories=job.categories, request=request, for_update=True):
            with transaction.atomic():
                made = Disagreement.objects.create(
                    practice_id=actor.practice_id, amendment=amendment, patient_id=patient_id, filed_by_id=actor.user_id,
                    filed_at=timezone.now(), text=statement,
                )  # fmt: skip
            _audit(AuditEvent.AMENDMENT_DISAGREEMENT_FILED, actor, amendment, resource_ids=[made.pk], purpose=Purpose.PATIENT_REQUEST,
                   request=request)  # fmt: skip
    except IntegrityError:
        raise InvalidInput("A statement of disagreement is already on file for this request.") from None
    return made


# --- the practice's rebuttal -----------------------------------------------------------------
def write_rebuttal(*, actor, request_id, text, request=None) -> Rebuttal:
    """M8: the practice's rebuttal of a statement of disagreement; a copy goes to the patient
    (a kept letter) in the same transaction, which `copy_sent_at` records."""
    actor = _reviewer(actor)
    row = _request(actor.practice_id, request_id)
    amendment = _amendment_of(actor.practice_id, row)
    wording = clean_text(text, "The rebuttal")
    with tenant_context(practice_id=actor.practice_id):
        if not Disagreement.objects.filter(amendment=amendment).exists():
            raise InvalidInput("A rebuttal answers the patient's statement of disagreement; none is on file.")
    with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={amendment.target_category, MESSAGES}, request=request, for_update=True):
        if Rebuttal.objects.filter(amendment=amendment).exists():
            raise InvalidInput("A rebuttal is already on file for this request.")
        letter = keep_letter(
            practice_id=actor.practice_id, request_row=row, kind=LetterKind.REBUTTAL, template="rights/letters/amendment_rebuttal.txt",
            status=LetterStatus.TO_PRINT, channel="post", context={"part": target_label(amendment), "rebuttal": wording},
            request=request,
        )  # fmt: skip
        try:
            with transaction.atomic():
                made = Rebuttal.objects.create(
                    practice_id=actor.practice_id, amendment=amendment, patient_id=row.patient_id, written_by_id=actor.user_id,
                    written_at=timezone.now(), copy_sent_at=letter.sent_at, copy_letter=letter, text=wording,
                )  # fmt: skip
        except IntegrityError:
            raise InvalidInput("A rebuttal is already on file for this request.") from None
        _audit(AuditEvent.AMENDMENT_REBUTTAL_WRITTEN, actor, amendment, resource_ids=[made.pk, letter.pk], request=request)
    return made


# --- reading ---------------------------------------------------------------------------------
@dataclass
class AmendmentView:
    """What the request page's panel shows. `content` is False for a role that may not read the
    disputed part (the privacy officer): then every text is empty and only statuses show."""

    request: RightsRequest
    amendment: Amendment | None
    content: bool
    part: str = ""
    status_label: str = ""
    basis_label: str = ""
    asked: str = ""
    explanation: str = ""
    disagreement: str = ""
    disagreement_filed_at: datetime.datetime | None = None
    rebuttal: str = ""
    rebuttal_copy_sent_at: datetime.datetime | None = None
    choices: list = field(default_factory=list)
    bases: list = field(default_factory=lambda: list(DenialBasis.choices))


def amendment_view(*, actor, request_id, request=None) -> AmendmentView:
    if not isinstance(actor, StaffActor) or not (actor.has(Perm.AMENDMENT_DECIDE) or actor.has(Perm.RIGHTS_QUEUE_VIEW)):
        raise Forbidden(Perm.AMENDMENT_DECIDE)
    row = _request(actor.practice_id, request_id)
    content = actor.has(Perm.AMENDMENT_DECIDE)
    with tenant_context(practice_id=actor.practice_id):
        amendment = Amendment.objects.filter(request=row).first()
        disagreement = Disagreement.objects.filter(amendment=amendment).first() if amendment else None
        rebuttal = Rebuttal.objects.filter(amendment=amendment).first() if amendment else None
    view = AmendmentView(request=row, amendment=amendment, content=content)
    if amendment is None:
        if content:
            view.choices = target_choices(actor.practice_id, row.patient_id)
        return view
    view.part = target_label(amendment)
    view.status_label = AmendmentStatus(amendment.status).label
    view.basis_label = DenialBasis(amendment.denial_basis).label if amendment.denial_basis else ""
    view.disagreement_filed_at = disagreement.filed_at if disagreement else None
    view.rebuttal_copy_sent_at = rebuttal.copy_sent_at if rebuttal else None
    if content:
        with open_chart(actor, row.patient_id, Purpose.TREATMENT, categories={amendment.target_category, MESSAGES}, request=request):
            view.asked = amendment.asked or ""
            view.explanation = amendment.explanation or ""
            view.disagreement = disagreement.text if disagreement else ""
            view.rebuttal = rebuttal.text if rebuttal else ""
    return view


@dataclass(frozen=True)
class PatientAmendment:
    id: uuid.UUID
    request_id: uuid.UUID
    part: str
    status: str
    status_label: str
    basis_label: str
    disagreement_filed_at: datetime.datetime | None
    can_disagree: bool


def patient_amendments(*, actor) -> list[PatientAmendment]:
    """The current record's amendments for the portal: statuses and dates (the letters say the rest)."""
    if not isinstance(actor, PatientActor):
        raise Forbidden("a patient's own amendments")
    with tenant_context(practice_id=actor.practice_id):
        rows = list(Amendment.objects.filter(patient_id=actor.patient_id).order_by("-created_at")[:20])
        filed = dict(Disagreement.objects.filter(amendment__in=rows).values_list("amendment_id", "filed_at"))
    return [
        PatientAmendment(
            id=a.pk, request_id=a.request_id, part=target_label(a), status=a.status, status_label=AmendmentStatus(a.status).label,
            basis_label=DenialBasis(a.denial_basis).label if a.denial_basis else "", disagreement_filed_at=filed.get(a.pk),
            can_disagree=a.status == AmendmentStatus.DENIED and a.pk not in filed,
        )  # fmt: skip
        for a in rows
    ]


@dataclass(frozen=True)
class Dispute:
    """M9: a part of the record with an amendment on it (no content): for the chart's notice."""

    amendment_id: uuid.UUID
    target_model: str
    target_id: uuid.UUID
    target_field: str
    category: str
    status: str
    has_disagreement: bool

    @property
    def notice(self) -> str:
        if self.status == AmendmentStatus.PENDING:
            return "Amendment requested"
        if self.status == AmendmentStatus.DENIED:
            return "Amendment denied" + (" — statement of disagreement on file" if self.has_disagreement else "")
        return "Amended at the patient's request"


def disputes_for(practice_id, patient_id) -> list[Dispute]:
    with tenant_context(practice_id=practice_id):
        rows = list(Amendment.objects.filter(patient_id=patient_id).order_by("created_at"))
        filed = set(Disagreement.objects.filter(amendment__in=rows).values_list("amendment_id", flat=True))
    return [Dispute(a.pk, a.target_model, a.target_id, a.target_field, a.target_category, a.status, a.pk in filed) for a in rows]


@dataclass(frozen=True)
class PacketItem:
    """M10: what travels with a later disclosure of a disputed part."""

    part: str
    category: str
    received_on: datetime.date
    status_label: str
    asked: str
    basis_label: str
    explanation: str
    disagreement: str
    rebuttal: str


def packet_for(practice_id, patient_id, categories) -> list[PacketItem]:
    """The amendment packet of the parts in `categories`: the request, the denial, the
    statement of disagreement and the rebuttal, all that exist. Call it inside an opening that
    grants `communications.messages` for this patient (the release job's)."""
    wanted = set(categories)
    with tenant_context(practice_id=practice_id):
        rows = [a for a in Amendment.objects.filter(patient_id=patient_id).select_related("request").order_by("created_at") if a.target_category in wanted]
        disagreements = {d.amendment_id: d for d in Disagreement.objects.filter(amendment__in=rows)}
        rebuttals = {r.amendment_id: r for r in Rebuttal.objects.filter(amendment__in=rows)}
    items = []
    for a in rows:
        d, r = disagreements.get(a.pk), rebuttals.get(a.pk)
        items.append(PacketItem(
            part=target_label(a), category=a.target_category, received_on=timezone.localdate(a.request.received_at),
            status_label=AmendmentStatus(a.status).label, asked=a.asked or "",
            basis_label=DenialBasis(a.denial_basis).label if a.denial_basis else "", explanation=a.explanation or "",
            disagreement=d.text if d else "", rebuttal=r.text if r else "",
        ))  # fmt: skip
    return items
