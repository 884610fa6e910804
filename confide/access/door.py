"""The chart door: `open_chart` is the only way to read or write a patient's PHI.

    with open_chart(actor, patient_id, Purpose.TREATMENT) as chart:
        ...chart.patient...

Opening checks, each a line of `open_chart` and each refusal an `access:denied` audit entry
(ids, purpose, a reason code; never a name) committed before the error is raised:

1. the actor is a `StaffActor`, a `SystemActor` made from a registered `SystemJob`, or a
   `PatientActor` from the portal (a portal account and the link that joins it to the record);
2. the purpose is a `Purpose` (a string outside the enum is refused);
3. the categories asked for are in the taxonomy (`policy.KNOWN_CATEGORIES`);
4. the actor's membership in its practice is active *now* (re-read from the database, role
   unchanged), and its user is active; for a patient actor, its portal link: open *now*, to
   this very record, of the kind the actor claims (own record or a representative's), held by
   an active portal account — else the record answers as missing (404);
5. the patient exists in the actor's practice: another practice's patient raises the same
   `NotFound` as a missing one;
6. the record is not restricted: a shredded or inactive (removed from the active database)
   patient is refused (hook `_restriction` for restrictions requested by the patient);
7. consent, where the declaration in force says the purpose needs it (marketing, analytics,
   AI assistance): the patient's consent ledger must cover the opening, channel by channel
   (`confide.consent.services.missing_consent`: marketing of the e-mail address needs
   marketing-by-e-mail, of the phone number marketing-by-SMS); a new chart has no consent yet,
   and a list leaves out the patients whose consent does not cover it;
8. the categories are within what the role may see for the purpose (`policy.CATEGORY_GRANTS`),
   or a clinician breaks the glass with a typed reason (never for psychotherapy notes; a
   reason given when the normal grant already covers the request makes a normal opening).

An opening writes one `records:chart:opened` entry listing the categories granted — in its own
transaction when the caller has none, so the reading is on record even if the block later
fails — then runs the block inside a transaction and a vault allowance for exactly those
categories, bound to this patient. A writing block's `chart.patient` is the row re-read under
its lock inside that transaction (a shredding or deactivation that committed since the checks is
refused then); a reading block's is the row the checks read (a shredding since then is refused
from the tombstone; the vault checks the key generation read with that row). A reading opening
costs two reads and its entry (docs/architecture.md, "What an opening costs").

Reading and writing are two kinds of opening. `open_chart(..., for_update=True)` is for a
block that writes anything: the row is re-read under its lock (`access.locks.lock_patient`:
PostgreSQL `SELECT … FOR UPDATE`; SQLite's IMMEDIATE transaction already holds the writer
lock), so a read-modify-write of the encrypted lists never starts from a copy another writer
has since replaced, and writers of one chart take turns. A plain opening takes no lock (readers
never wait for each other) and cannot record a change: `record_change` is refused in it, so a
write can only happen under the lock. Changes are recorded with `chart.record_change(fields,
reason)` (REC4); when the block ends the door compares the patient's stored ciphertexts with
those of the row the block was given, and a field that changed without a recorded reason
rolls the block back. That comparison is exact: under the lock nobody else can have changed
the row; in a reading block it is made only when the block sent a statement writing the
patients' table (an execute wrapper watches the block's connection), so a colleague's save
committing meanwhile is never mistaken for this block's.

When the caller is already inside a transaction, every entry joins it: a refusal the caller
lets escape and roll back takes its `access:denied` entry with it. Services therefore open the
door outside their own `atomic` (the door provides the transaction for the block). An opening
for update inside a caller's transaction locks the patient before writing its opening entry:
the patient's row comes before the audit chain head in every transaction (access/locks.py).

`create_chart` is the door for a patient who does not exist yet (one `records:patient:created`
entry, in the transaction of the insert); `open_patient_list` opens identity/contact for a list
of patients with one `records:patients:listed` entry naming them all (not one entry per row).

The door sits below the records package, which builds on it (docs/architecture.md, "Layers";
pyproject.toml's import contracts): it knows the models it guards by name in the app registry
— the patient model as settings name it (`core.subjects.patient_model`), psychotherapy notes
and consultations by their labels — never by importing the package above it.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from confide.access import locks, policy
from confide.access.errors import AccessRefused
from confide.core.purposes import Purpose
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core import tenancy
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.subjects import patient_model
from confide.core.text import line_problem, lower_first
from confide.vault import keys, tombstones
from confide.vault.allowance import allow
from confide.vault.fields import encrypted_fields

logger = logging.getLogger(__name__)

# REC4: a change to PHI names one of these (the patient asked; an error was corrected; the
# change is immaterial, e.g. reformatting). Stored as the audit entry's `reason` code.
# `new_entry` is not an alteration: something new is added to the record during care (a
# medication started, a result received) and nothing already there changes; the services that
# use it (records.services.do_add_item) only ever append.
ALTERATION_REASONS = frozenset({"patient_request", "error_correction", "immaterial"})
# `care_update` is not an alteration either: the course of care moved on — a medication stopped
# or completed, an allergy or condition no longer active — and the item says so with its end
# and its clinical reason (records.services.do_set_item_status). What was recorded stays true
# for its time; only the present status is added.
CHANGE_REASONS = ALTERATION_REASONS | {"new_entry", "care_update"}
# The records the door guards besides the patient, by label (the records package builds on the
# door, so the door does not import it).
PSYCHOTHERAPY_NOTE_MODEL = "records.PsychotherapyNote"
INTAKE_SUBMISSION_MODEL = "records.IntakeSubmission"
BREAK_GLASS = "break-glass"  # the reason code of a flagged opening; the typed text is elsewhere


# --- system actors ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SystemActor:
    """A background job acting in one practice, with the narrowest categories it needs."""

    name: str
    categories: frozenset[str]
    practice_id: uuid.UUID
    purposes: frozenset[Purpose] = frozenset()


@dataclass(frozen=True)
class SystemJob:
    """The declaration of a system actor. Only registered jobs open the door, and only with
    exactly their declared categories and purposes: a hand-made SystemActor is refused."""

    name: str
    categories: frozenset[str]
    purposes: frozenset[Purpose]

    def for_practice(self, practice_id) -> SystemActor:
        return SystemActor(self.name, self.categories, uuid.UUID(str(practice_id)), self.purposes)


# Appointment reminders (confide/scheduling/reminders.py): where the reminder goes (the phone
# number or e-mail address), the appointment's time, and the reminder's own text sealed into the
# patient's thread (communications.messages: it writes its body, it reads no other message); for
# treatment; nothing else (no name, no address, no clinical detail).
REMINDER_JOB = SystemJob(
    "reminder-job", frozenset({policy.PHONE, policy.EMAIL, policy.MESSAGES, policy.APPOINTMENTS}), frozenset({Purpose.TREATMENT})
)
# Notices of material changes to the privacy notice: the e-mail address, for operations.
POLICY_NOTICE_JOB = SystemJob("policy-notice-job", frozenset({policy.EMAIL}), frozenset({Purpose.OPERATIONS}))
# FHIR import (`confide fhir import`): writes identity, contact and the clinical lists of the
# patients it imports, for treatment (continuity of care); never notes, files or money.
FHIR_IMPORT_JOB = SystemJob(
    "fhir-import-job",
    frozenset({policy.NAME, policy.DOB, policy.DEMOGRAPHICS, policy.MRN, policy.EMAIL, policy.PHONE, policy.ADDRESS,
               policy.BACKGROUND, policy.MEDICATIONS, policy.ALLERGIES, policy.CONDITIONS, policy.LAB_RESULTS,
               policy.IMMUNIZATIONS, policy.ENCOUNTERS}),
    frozenset({Purpose.TREATMENT}),
)  # fmt: skip
# The driver's licence (identifiers.government) stays out on purpose: it is checked at the desk,
# not needed for care, so an import counts it as a skipped field and never stores it.
# FHIR export (`confide fhir export`): a patient's portable copy (RTS2), at the patient's request:
# what the import writes, the progress notes, and whom to call (emergency contact, guardian:
# the patient's own data, as FHIR Patient.contact). Not yet: government ID, insurance,
# documents, photos (see docs/architecture.md, FHIR). Never psychotherapy notes by category:
# those need the patient's specific authorization (records/fhir.py).
FHIR_EXPORT_JOB = SystemJob(
    "fhir-export-job",
    # …and the online consultations accepted into the chart (QuestionnaireResponse).
    FHIR_IMPORT_JOB.categories | {policy.NOTES, policy.EMERGENCY_CONTACT, policy.GUARDIAN, policy.INTAKE},
    frozenset({Purpose.PATIENT_REQUEST}),
)
# The consent ledger writing a patient's own browser evidence (IP address, user agent) under the
# patient's key when they record a choice themselves (TRK1); it never reads anything else.
CONSENT_EVIDENCE_JOB = SystemJob("consent-evidence", frozenset({policy.NETWORK, policy.DEVICE}), frozenset({Purpose.OPERATIONS}))
# Rebuilding the blind indexes (`confide patients reindex`, after an upgrade adds a kind such as
# name prefixes): reads what the indexes are computed from, through one list opening per batch.
SEARCH_INDEX_JOB = SystemJob(
    "search-index-job", frozenset({policy.NAME, policy.DOB, policy.EMAIL, policy.PHONE}), frozenset({Purpose.OPERATIONS})
)
# The 18th birthday (records/majority.py): for each patient with an active representative link,
# the date of birth (has the birthday come?) and the e-mail (to invite the adult to their own
# account), for operations; nothing else.
AGE_OF_MAJORITY_JOB = SystemJob("age-of-majority-job", frozenset({policy.DOB, policy.EMAIL}), frozenset({Purpose.OPERATIONS}))
# The one-time portal message to a guardian whose access ended at the 18th birthday ("Your
# access to <first name>'s record ended"): the name the guardian saw until then, nothing else.
PORTAL_ENDED_NOTICE_JOB = SystemJob("portal-ended-notice-job", frozenset({policy.NAME}), frozenset({Purpose.OPERATIONS}))
# The portal's "who opened my record" showing a patient the reason a clinician typed when breaking
# the glass on their record (AUD1): the reason is PHI kept under the patient's key, outside the
# portal grant; the portal opens the door as the patient first (their link re-read), then as this
# job for the reasons alone (confide/portal/privacy.py).
ACCESS_REPORT_JOB = SystemJob("access-report-job", frozenset({policy.BREAK_GLASS_REASON}), frozenset({Purpose.PATIENT_REQUEST}))
# A rights request opened in the portal: the optional text the patient types is a message to the
# practice, sealed under the patient's key (confide/rights/services.py); it writes nothing else.
RIGHTS_REQUEST_JOB = SystemJob("rights-request-job", frozenset({"communications.messages"}), frozenset({Purpose.PATIENT_REQUEST}))
# Letters about rights requests (confide/rights/letters.py): the letter's body, sealed under the
# patient's key as a message from the practice; nothing else.
RIGHTS_LETTER_JOB = SystemJob("rights-letter-job", frozenset({"communications.messages"}), frozenset({Purpose.PATIENT_REQUEST}))
# The accounting of disclosures (confide/disclosures): writing one disclosure's sealed entry
# (recipient, what, why) for whoever disclosed it — a records release, a compelled disclosure,
# staff recording a paper release; reading a patient's entries for their accounting.
DISCLOSURE_JOB = SystemJob(
    "disclosure-job", frozenset({policy.DISCLOSURES}), frozenset({Purpose.PATIENT_REQUEST, Purpose.LEGAL, Purpose.OPERATIONS})
)
# An operator's portal invitation (`confide portal invite --patient …` without --email): the
# chart's e-mail address, where the invitation goes; nothing else.
PORTAL_INVITE_JOB = SystemJob("portal-invite-job", frozenset({policy.EMAIL}), frozenset({Purpose.OPERATIONS}))
# Messaging (confide/messaging): delivering one message — where it goes (the phone number or
# e-mail address), the body, and the address's state for the recipient's time zone (quiet hours);
# for care and operations, and for marketing (where the door asks the ledger for the channel's
# marketing consent too). Reading an inbound text's sender is the same job's matching step.
MESSAGING_SEND_JOB = SystemJob(
    "messaging-send-job",
    frozenset({policy.PHONE, policy.EMAIL, policy.ADDRESS, policy.MESSAGES}),
    frozenset({Purpose.TREATMENT, Purpose.OPERATIONS, Purpose.MARKETING}),
)
# Messaging's inbound side: sealing the body of a text or portal message from the patient into
# their thread (the body, nothing else).
MESSAGING_INBOUND_JOB = SystemJob("messaging-inbound-job", frozenset({policy.MESSAGES}), frozenset({Purpose.TREATMENT}))
# The clinician's private calendar feed with initials on (confide/scheduling/feed.py): the names
# of the feed's patients, to print their initials, for operations; only when the practice turned
# initials on and the policy in force declares the `calendar-feed` egress in use.
FEED_INITIALS_JOB = SystemJob("feed-initials-job", frozenset({policy.NAME}), frozenset({Purpose.OPERATIONS}))
# --- part retention: the retention engine and a deletion's execution (confide/retention): the date
# of birth (a minor's retention runs from the 18th birthday), for a patient's request (deletion)
# or a legal duty (the schedule); nothing else is read.
RETENTION_JOB = SystemJob("retention-job", frozenset({policy.DOB}), frozenset({Purpose.PATIENT_REQUEST, Purpose.LEGAL}))
# An archived record (retention.ArchivedRecord) opens only for these purposes (RET2, RTS4).
ARCHIVE_PURPOSES = frozenset({Purpose.LEGAL, Purpose.PATIENT_REQUEST})
ARCHIVED_RECORD_MODEL = "retention.ArchivedRecord"
# --- end part retention
# --- part "intake" (issue 17): checking who made a rights request that arrived without a
# signed-in account (the public form, the operator). Writes what the visitor typed to be
# verified (name, date of birth, contact) under the check's own key, reads the chart's contact on
# file (e-mail; a minor's guardian) to send the one-time code there, keeps an agent's signed
# authorisation (contact.guardian: someone acting for the patient) under the patient's key, and
# the text the visitor typed (a message) under the check's key until it moves to the request; for
# the patient's request, nothing else.
RIGHTS_VERIFY_JOB = SystemJob(
    "rights-verify-job", frozenset({policy.NAME, policy.DOB, policy.EMAIL, policy.PHONE, policy.GUARDIAN, policy.MESSAGES}),
    frozenset({Purpose.PATIENT_REQUEST}),
)  # fmt: skip
# --- end part "intake"
# Part "export" -- the patient's copy for a `see` or `copy` rights request (confide/rights/export.py,
# RTS1/RTS2): every category held about the patient, for their request; never psychotherapy notes
# by category (those leave only through `open_psychotherapy_notes_for_release`, when staff recorded
# the patient's specific authorization on the request).
RIGHTS_EXPORT_JOB = SystemJob(
    "rights-export-job", frozenset(policy.KNOWN_CATEGORIES - policy.AUTHOR_ONLY_CATEGORIES), frozenset({Purpose.PATIENT_REQUEST})
)
# end part "export"
SYSTEM_JOBS: dict[str, SystemJob] = {
    job.name: job
    for job in (
        REMINDER_JOB, POLICY_NOTICE_JOB, FHIR_IMPORT_JOB, FHIR_EXPORT_JOB, CONSENT_EVIDENCE_JOB, SEARCH_INDEX_JOB,
        AGE_OF_MAJORITY_JOB, PORTAL_ENDED_NOTICE_JOB, ACCESS_REPORT_JOB, RIGHTS_REQUEST_JOB, PORTAL_INVITE_JOB,
        MESSAGING_SEND_JOB, MESSAGING_INBOUND_JOB, FEED_INITIALS_JOB, DISCLOSURE_JOB, RIGHTS_LETTER_JOB,
        RETENTION_JOB,  # part retention
        RIGHTS_VERIFY_JOB,  # part "intake"
        RIGHTS_EXPORT_JOB,  # part "export"
    )
}  # fmt: skip


# --- an attempt, and its refusal ----------------------------------------------------------------
def _as_uuid(value) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


@dataclass
class _Attempt:
    actor: object
    request: object
    practice_id: uuid.UUID | None = None
    purpose: str = ""
    subject_id: uuid.UUID | None = None
    categories: frozenset[str] = frozenset()
    break_glass: bool = False
    detail: dict = field(default_factory=dict)
    # Read with the membership (query a): the practice's latest policy version number, which
    # lets the declaration in force come from the process cache (policy.services).
    policy_latest: int | None = None

    @classmethod
    def start(cls, actor, request, *, break_glass: bool = False) -> _Attempt:
        if isinstance(actor, (StaffActor, SystemActor, PatientActor)):
            practice_id = _as_uuid(actor.practice_id)
        else:
            practice_id = tenancy.current_practice_id()
        return cls(actor=actor, request=request, practice_id=practice_id, break_glass=break_glass)

    @property
    def audit_actor(self):
        if isinstance(self.actor, SystemActor):
            return system_actor(self.actor.name)
        if isinstance(self.actor, (StaffActor, PatientActor)):
            return self.actor
        return None  # recorded as anonymous; the type goes into the detail

    def refuse(self, code: str, message: str, *, not_found: bool = False) -> Exception:
        """Write the `access:denied` entry and return the error to raise."""
        detail = dict(self.detail)
        if not isinstance(self.actor, (StaffActor, SystemActor, PatientActor)):
            detail["actor_type"] = type(self.actor).__name__[:40]
        if self.break_glass:
            detail["break_glass"] = True
        record(  # atomic by itself: committed at once unless the caller holds a transaction
            AuditEvent.ACCESS_DENIED,
            practice_id=self.practice_id,
            actor=self.audit_actor,
            purpose=self.purpose,
            subject_id=self.subject_id,
            categories=self.categories,
            outcome="denied",
            reason=code,
            flagged=self.break_glass,
            detail=detail,
            request=self.request,
        )
        logger.info("chart door refused", extra={"code": code})
        if not_found:
            return NotFound("patient")
        return AccessRefused(code, message)


# --- the door's two reads, compiled once ----------------------------------------------------------
class _Prepared:
    """A query the door sends on every opening, compiled by the ORM once per process and
    database vendor and then sent with new parameters: building and compiling the queryset
    cost more than running it. `build(**sentinels)` makes the queryset with a unique sentinel
    value per parameter; the compiled parameters equal to a sentinel (as the backend prepares
    it) are the slots that each call fills with its own values, prepared the same way."""

    def __init__(self, build, **kinds):
        self.build = build
        self.kinds = kinds  # parameter name -> "uuid" | "int"
        self._compiled: dict[str, tuple[str, list, dict[int, str]]] = {}

    @staticmethod
    def _prep(kind: str, value, connection):
        from django.db import models

        if kind == "str":
            return str(value)
        field = models.UUIDField() if kind == "uuid" else models.IntegerField()
        return field.get_db_prep_value(value, connection)

    def compiled(self, connection) -> tuple[str, list, dict[int, str]]:
        found = self._compiled.get(connection.vendor)
        if found is None:
            sentinels = {
                name: (uuid.uuid4() if kind == "uuid" else f"sentinel-{uuid.uuid4().hex}" if kind == "str" else -(10**9 + i))
                for i, (name, kind) in enumerate(self.kinds.items())
            }
            with tenancy.tenant_context(practice_id=sentinels.get("practice_id"), user_id=tenancy.current_user_id()):
                queryset = self.build(**sentinels)
                sql, params = queryset.query.sql_with_params()
            prepared = {name: self._prep(self.kinds[name], value, connection) for name, value in sentinels.items()}
            slots = {i: name for i, p in enumerate(params) for name, value in prepared.items() if p == value}
            found = self._compiled[connection.vendor] = (sql, list(params), slots)
        return found

    def sql_and_params(self, **values) -> tuple[str, list]:
        connection = transaction.get_connection()
        sql, params, slots = self.compiled(connection)
        filled = list(params)
        for i, name in slots.items():
            filled[i] = self._prep(self.kinds[name], values[name], connection)
        return sql, filled


def _membership_query(membership_id, user_id, practice_id):
    from confide.accounts.models import Membership
    from confide.policy.services import latest_number_subquery

    return (
        Membership.objects.filter(id=membership_id, user_id=user_id, is_active=True, user__is_active=True)
        .annotate(policy_latest=latest_number_subquery())
        .values_list("role", "policy_latest")
    )


def _patient_query(patient_id, practice_id):
    return _with_key_generation(patient_model().objects.filter(pk=patient_id))[:1]


def _patient_with_ledger_query(patient_id, practice_id, patient_key):
    from confide.consent.services import ledger_length_subquery

    return _with_key_generation(patient_model().objects.filter(pk=patient_id)).annotate(
        **{LEDGER_LENGTH: ledger_length_subquery(patient_key)}
    )[:1]


# The patient's consent ledger length, read with the patient when the purpose needs consent: the
# grants come from the process cache while it is unchanged (consent.services.missing_consent).
LEDGER_LENGTH = "consent_ledger_length"
_MEMBERSHIP = _Prepared(_membership_query, membership_id="uuid", user_id="int", practice_id="uuid")
_PATIENT = _Prepared(_patient_query, patient_id="uuid", practice_id="uuid")
_PATIENT_WITH_LEDGER = _Prepared(_patient_with_ledger_query, patient_id="uuid", practice_id="uuid", patient_key="str")


# --- the checks, one function each ------------------------------------------------------------
def _check_actor(attempt: _Attempt, *, patients: bool = False) -> None:
    """`patients`: whether this door opens for a patient actor at all. Only `open_chart` does (a
    patient reads their own record); a list, a new chart, a consultation are staff or jobs."""
    actor = attempt.actor
    if isinstance(actor, StaffActor):
        if attempt.practice_id is None:
            raise attempt.refuse("unknown_actor", "the acting staff member names no practice")
        return
    if isinstance(actor, SystemActor):
        job = SYSTEM_JOBS.get(actor.name)
        if job is None or job.categories != actor.categories or job.purposes != actor.purposes or attempt.practice_id is None:
            raise attempt.refuse("unknown_system_actor", "not a registered system job, or not as registered")
        return
    if isinstance(actor, PatientActor) and patients:
        if attempt.practice_id is None or actor.user_id is None or actor.link_id is None:
            raise attempt.refuse("unknown_actor", "a patient opens a record only through a portal account's link")
        return
    raise attempt.refuse("unknown_actor", "the door opens only for a staff member, a registered system job or a portal account")


@contextmanager
def acting_in_practice(attempt_or_actor) -> Iterator[None]:
    """Run the block in the actor's practice context; a different practice already in context
    is refused (it would mean a request for one practice acting as a member of another)."""
    attempt = attempt_or_actor if isinstance(attempt_or_actor, _Attempt) else _Attempt.start(attempt_or_actor, None)
    current = tenancy.current_practice_id()
    if current is not None and current != attempt.practice_id:
        raise attempt.refuse("practice_context_mismatch", "the actor belongs to another practice than the one in context")
    with tenancy.tenant_context(practice_id=attempt.practice_id, user_id=tenancy.current_user_id()):
        yield


def _check_purpose(attempt: _Attempt, purpose) -> Purpose:
    try:
        checked = Purpose(purpose)
    except ValueError:
        raise attempt.refuse("unknown_purpose", f"purpose must be one of: {', '.join(p.value for p in Purpose)}") from None
    attempt.purpose = checked.value
    return checked


def _check_known_categories(attempt: _Attempt, categories: Iterable[str] | None) -> frozenset[str] | None:
    if categories is None:
        return None
    if isinstance(categories, str):  # a lone "contact.email" would iterate as characters
        categories = [categories]
    wanted = frozenset(str(c) for c in categories)
    attempt.categories = wanted & policy.KNOWN_CATEGORIES
    try:
        policy.check_known(wanted)
    except policy.UnknownCategory as exc:
        attempt.detail["unknown_categories"] = len(wanted - policy.KNOWN_CATEGORIES)
        raise attempt.refuse("unknown_category", str(exc)) from None
    if not wanted:
        raise attempt.refuse("nothing_requested", "no data categories were asked for")
    return wanted


def _check_portal_link(attempt: _Attempt, patient_id) -> None:
    """A patient actor's portal link, re-read now: ended (a guardian at the child's 18th
    birthday, a deactivated account), another record's, or of another kind than the actor
    claims → refused, and the record answers as missing. One query, which also reads the
    practice's latest policy number (as the membership query does)."""
    from confide.accounts.models import LinkKind, PortalLink, UserKind
    from confide.policy.services import latest_number_subquery

    actor = attempt.actor
    attempt.subject_id = _as_uuid(getattr(patient_id, "pk", patient_id))
    kind = LinkKind.REPRESENTATIVE if actor.representative else LinkKind.SELF
    found = (
        PortalLink.objects.filter(
            id=_as_uuid(actor.link_id), user_id=actor.user_id, patient_id=_as_uuid(actor.patient_id), kind=kind,
            is_active=True, user__is_active=True, user__kind=UserKind.PATIENT,
        )
        .annotate(policy_latest=latest_number_subquery())
        .values_list("policy_latest", flat=True)
        .first()
        if attempt.subject_id is not None and attempt.subject_id == _as_uuid(actor.patient_id)
        else None
    )
    if found is None and not PortalLink.objects.filter(id=_as_uuid(actor.link_id), is_active=True).exists():
        raise attempt.refuse("portal_link_inactive", "this portal account no longer acts on this record", not_found=True)
    if found is None:
        raise attempt.refuse("not_found", "patient", not_found=True)
    attempt.policy_latest = found


def _check_membership(attempt: _Attempt) -> Role | None:
    """The staff member's membership, re-read now: closed, or its role changed → refused."""
    actor = attempt.actor
    if isinstance(actor, SystemActor):
        return None
    if isinstance(actor, PatientActor):
        return None  # the portal link stands for the membership: _check_portal_link
    # One query: the membership, its user's state, and the practice's latest policy number
    # (compiled once: _Prepared; the practice in context is a parameter like the others).
    membership_id = _as_uuid(actor.membership_id)
    try:
        user_id = int(actor.user_id)
    except (TypeError, ValueError):
        user_id = None
    if membership_id is None or user_id is None:
        found = None
    else:
        sql, params = _MEMBERSHIP.sql_and_params(membership_id=membership_id, user_id=user_id, practice_id=tenancy.current_practice_id())
        with transaction.get_connection().cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
    if found is None:
        raise attempt.refuse("membership_inactive", "the acting staff member has no active membership in this practice")
    role, attempt.policy_latest = found
    if role != actor.role:
        raise attempt.refuse("role_changed", "the acting staff member's role changed; sign in again")
    return Role(role)


# The subject's key generation, read with the patient (query b): the process cache of unwrapped
# keysets (vault/keys.py) serves this opening only if its entry was unwrapped at this generation.
KEY_GENERATION = "vault_key_generation"


def _key_generation():
    from django.db.models import OuterRef, Subquery

    from confide.vault.models import SubjectKey

    return Subquery(SubjectKey.objects.filter(subject_id=OuterRef("pk")).order_by("-generation").values("generation")[:1])


def _with_key_generation(queryset):
    return queryset.annotate(**{KEY_GENERATION: _key_generation()})


def _note_key_generation(patient) -> None:
    """Inside the block's allowance: the generation read with the patient (see KEY_GENERATION)."""
    if KEY_GENERATION in patient.__dict__:
        keys.note_generation(patient.pk, patient.__dict__[KEY_GENERATION])


def _load_patient(attempt: _Attempt, patient_id, *, with_ledger: bool = False):
    pk = _as_uuid(getattr(patient_id, "pk", patient_id))
    attempt.subject_id = pk
    patient = None
    if pk is not None and with_ledger:
        sql, params = _PATIENT_WITH_LEDGER.sql_and_params(patient_id=pk, practice_id=tenancy.current_practice_id(), patient_key=str(pk))
        patient = next(iter(patient_model().objects.raw(sql, params)), None)
    elif pk is not None:
        sql, params = _PATIENT.sql_and_params(patient_id=pk, practice_id=tenancy.current_practice_id())
        patient = next(iter(patient_model().objects.raw(sql, params)), None)
    if patient is None:  # missing, or another practice's: the same answer
        raise attempt.refuse("not_found", "patient", not_found=True)
    return patient


def _reread_patient(pk, *, for_update: bool):
    """The patient's row as of the block's transaction: locked for an opening for update."""
    if for_update:
        return locks.lock_patient(pk, annotate={KEY_GENERATION: _key_generation()})
    return patient_model().objects.filter(pk=pk).first()


def _restriction(patient, purpose: Purpose) -> tuple[str, str] | None:
    """Why the record may not be opened at all right now, or None.

    Restrictions a patient requests (HIPAA's right to request restrictions) are a hook here:
    the rights issue adds their ledger and checks it per purpose at this point."""
    if tombstones.is_shredded(str(patient.pk)):
        return "patient_shredded", "this patient's record was erased (crypto-shredded)"
    if not patient.is_active:
        # An archived record (RET2, RTS4) still opens for a legal duty or the patient's own
        # request, each opening audited as any other; every other purpose is refused.
        if Purpose(purpose) in ARCHIVE_PURPOSES and _archived(patient):
            return None
        if _archived(patient):
            return "patient_archived", "this patient's record is archived: it opens only for a legal duty or the patient's own request"
        return "patient_inactive", "this patient's record is not in the active database (deletion or archive)"
    return None


def _archived(patient) -> bool:
    archive = apps.get_model(ARCHIVED_RECORD_MODEL)
    return archive.across_practices.filter(
        practice_id=patient.practice_id, patient_id=patient.pk, archived_at__isnull=False, destroyed_at__isnull=True
    ).exists()


def _check_restrictions(attempt: _Attempt, patient, purpose: Purpose) -> None:
    restricted = _restriction(patient, purpose)
    if restricted is not None:
        raise attempt.refuse(*restricted)


def _needs_consent(attempt: _Attempt, purpose: Purpose) -> bool:
    from confide.policy.services import declaration_in_force

    return purpose.value in declaration_in_force(attempt.practice_id, latest_number=attempt.policy_latest).consent_purposes()


def _consent_categories(attempt: _Attempt, role: Role | None, purpose: Purpose, wanted: frozenset[str] | None) -> frozenset[str]:
    """The categories the consent must cover: those asked for, else the role's whole grant."""
    return wanted if wanted is not None else _normal_grant(attempt, role, purpose)


def _check_consent(attempt: _Attempt, purpose: Purpose, patient=None, categories: frozenset[str] = frozenset()) -> None:
    """Refuse a purpose that needs consent unless the patient's ledger covers the opening (a new
    chart, `patient=None`, has no consent yet)."""
    if not _needs_consent(attempt, purpose):
        return
    from confide.consent.services import missing_consent

    if patient is None:
        missing = ["any"]
    else:
        # Read with the patient (None there: no event yet); not read (another door): no cache.
        length = (patient.__dict__[LEDGER_LENGTH] or 0) if LEDGER_LENGTH in patient.__dict__ else None
        missing = missing_consent(attempt.practice_id, patient.pk, purpose, categories, ledger_length=length)
    if missing:
        attempt.detail["consent_topics"] = sorted(str(t) for t in missing)
        raise attempt.refuse("consent_required", f"{purpose.value}: the patient has not consented to this (or withdrew consent)")


def _normal_grant(attempt: _Attempt, role: Role | None, purpose: Purpose) -> frozenset[str]:
    actor = attempt.actor
    if isinstance(actor, SystemActor):
        return actor.categories if purpose in actor.purposes else frozenset()
    if isinstance(actor, PatientActor):
        return policy.portal_categories(purpose, representative=actor.representative, withheld=_withheld_from_representatives(attempt))
    return policy.categories_for(role, purpose)


def _withheld_from_representatives(attempt: _Attempt) -> frozenset[str]:
    """Categories a minor controls in this practice (the declaration's per-category exceptions:
    some states give minors control of certain care); a representative never opens them."""
    if not attempt.actor.representative:
        return frozenset()
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(attempt.practice_id, latest_number=attempt.policy_latest)
    return frozenset(getattr(declaration, "minor_controlled_categories", lambda: ())())


def _check_grant(
    attempt: _Attempt, role: Role | None, purpose: Purpose, wanted: frozenset[str] | None, break_glass_reason
) -> tuple[frozenset[str], str | None]:
    """(categories granted, the typed break-the-glass reason if the glass was broken)."""
    normal = _normal_grant(attempt, role, purpose)
    if wanted is None:
        wanted = policy.BREAK_GLASS_CEILING if break_glass_reason is not None else normal
        attempt.categories = wanted
    if wanted & policy.AUTHOR_ONLY_CATEGORIES:
        raise attempt.refuse(
            "psychotherapy_notes_author_only", "psychotherapy notes are opened only by their author, through the notes"
        )
    if wanted and wanted <= normal:
        return wanted, None
    if break_glass_reason is None:
        if not normal:
            raise attempt.refuse("nothing_granted", f"this role sees no patient data for {purpose.value}")
        raise attempt.refuse("category_not_granted", f"this role may not see {', '.join(sorted(wanted - normal))} for {purpose.value}")
    # Break the glass.
    attempt.break_glass = True
    if not isinstance(attempt.actor, StaffActor) or role not in policy.BREAK_GLASS_ROLES:
        raise attempt.refuse("break_glass_not_permitted", "only a clinician may break the glass")
    if purpose not in policy.BREAK_GLASS_PURPOSES:
        raise attempt.refuse("break_glass_not_permitted", f"break-the-glass is not available for {purpose.value}")
    reason = str(break_glass_reason).strip()
    if len(reason) < policy.BREAK_GLASS_REASON_MIN_CHARS:
        raise attempt.refuse(
            "break_glass_reason_too_short", f"say why, in at least {policy.BREAK_GLASS_REASON_MIN_CHARS} characters"
        )
    if len(reason) > policy.BREAK_GLASS_REASON_MAX_CHARS:
        raise attempt.refuse(
            "break_glass_reason_too_long", f"the reason is limited to {policy.BREAK_GLASS_REASON_MAX_CHARS} characters"
        )
    if line_problem(reason, multiline=True):  # the typed reason follows the rule for all text (core/text.py)
        raise attempt.refuse("break_glass_reason_invalid", f"the reason: {lower_first(line_problem(reason, multiline=True)[1])}")
    if not wanted <= policy.BREAK_GLASS_CEILING:
        raise attempt.refuse(
            "beyond_break_glass", f"break-the-glass never opens {', '.join(sorted(wanted - policy.BREAK_GLASS_CEILING))}"
        )
    return wanted, reason


# The glass_reason of an opening that continues an earlier break-the-glass within its time.
CONTINUED = object()


def _check_continuation(
    attempt: _Attempt, role: Role | None, purpose: Purpose, wanted: frozenset[str], patient, continues
) -> tuple[frozenset[str], object | None]:
    """A later opening under an earlier break-the-glass of the same patient by the same staff
    member, within `policy.BREAK_GLASS_MINUTES` of it: the same rule (role, purpose, ceiling,
    never psychotherapy notes), no new reason asked; the entry is flagged and names the opening
    it continues. Past the time, or someone else's opening: refused (`break_glass_expired`)."""
    from confide.access.models import BreakGlassReason

    normal = _normal_grant(attempt, role, purpose)
    if wanted & policy.AUTHOR_ONLY_CATEGORIES:
        raise attempt.refuse("psychotherapy_notes_author_only", "psychotherapy notes are opened only by their author, through the notes")
    if wanted and wanted <= normal:
        return wanted, None
    attempt.break_glass = True
    if not isinstance(attempt.actor, StaffActor) or role not in policy.BREAK_GLASS_ROLES or purpose not in policy.BREAK_GLASS_PURPOSES:
        raise attempt.refuse("break_glass_not_permitted", "only a clinician may break the glass, for treatment or operations")
    if not wanted <= policy.BREAK_GLASS_CEILING:
        raise attempt.refuse("beyond_break_glass", f"break-the-glass never opens {', '.join(sorted(wanted - policy.BREAK_GLASS_CEILING))}")
    pk = _as_uuid(continues)
    since = timezone.now() - datetime.timedelta(minutes=policy.BREAK_GLASS_MINUTES)
    earlier = (
        BreakGlassReason.objects.filter(pk=pk, patient_id=patient.pk, opened_by_id=attempt.actor.user_id, created_at__gte=since)
        .values_list("audit_entry_id", flat=True)
        .first()
        if pk is not None
        else None
    )
    if earlier is None:
        raise attempt.refuse("break_glass_expired", "the break-the-glass opening has ended: give a reason again")
    attempt.detail["continues"] = earlier
    return wanted, CONTINUED


# --- the open chart ---------------------------------------------------------------------------
class Chart:
    """An open chart: `.patient` decrypts the granted categories while the door is open."""

    def __init__(
        self, *, attempt: _Attempt, patient, purpose: Purpose, categories: frozenset[str], break_glass: bool = False, entry=None,
        creating: bool = False, for_update: bool = False,
    ):  # fmt: skip
        self._attempt = attempt
        self.actor = attempt.actor
        self.purpose = purpose
        self.categories = categories
        self.break_glass = break_glass
        self.entry = entry  # the records:chart:opened audit entry
        self.for_update = for_update or creating
        self._creating = creating
        self._is_open = False
        self._recorded: set[str] = set()
        self._take(patient)

    def _take(self, patient) -> None:
        """Hand the block this copy of the row; the unrecorded-change check compares with it."""
        self.patient = patient
        self._sealed_at_open = {f.name: patient.__dict__.get(f.attname) for f in encrypted_fields(type(patient))}

    @property
    def is_open(self) -> bool:
        return self._is_open

    def record_change(self, fields: Iterable[str], reason: str):
        """Record, in the block's transaction, that `fields` of the patient change for `reason`
        (REC4: one of CHANGE_REASONS). Call it before or after saving, inside the door."""
        if not self._is_open:
            raise AccessRefused("chart_closed", "changes are recorded inside the open door only")
        if self._creating:
            raise AccessRefused("chart_creating", "a new patient's fields are recorded by create_chart itself")
        if not self.for_update:
            raise AccessRefused("chart_read_only", "this opening only reads: open the chart for_update to change it")
        if isinstance(fields, str):
            fields = [fields]
        names = sorted(set(fields))
        reason = str(reason or "")
        if reason not in CHANGE_REASONS:
            raise InvalidInput(
                "A change to a patient's record needs its reason: the patient's request, the correction of an error, "
                "or an immaterial change."
            )
        by_name = {f.name: f for f in encrypted_fields(type(self.patient))}
        unknown = [n for n in names if n not in by_name]
        if not names or unknown:
            raise InvalidInput("Name the changed fields of the patient's record.")
        touched = frozenset(by_name[n].category for n in names)
        if not touched <= self.categories:
            raise AccessRefused("category_not_granted", f"this opening does not cover {', '.join(sorted(touched - self.categories))}")
        entry = record(
            AuditEvent.CHART_CHANGED,
            practice_id=self.patient.practice_id,
            actor=self._attempt.audit_actor,
            purpose=self.purpose.value,
            subject_id=self.patient.pk,
            categories=touched,
            fields_changed=names,
            reason=reason,
            flagged=self.break_glass,
            request=self._attempt.request,
        )
        self._recorded.update(names)
        return entry

    def _unrecorded_changes(self) -> list[str]:
        model = type(self.patient)
        fields = encrypted_fields(model)
        stored = model.across_practices.filter(pk=self.patient.pk).values_list(*[f.attname for f in fields]).first()
        if stored is None:
            return sorted(f.name for f in fields)
        changed = {f.name for f, now in zip(fields, stored, strict=True) if now != self._sealed_at_open[f.name]}
        return sorted(changed - self._recorded)


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLAC", "WITH")  # WITH: a CTE may write; checking costs one read


class _PatientWrites:
    """Watches the statements a reading block sends on its connection (an execute wrapper)
    and notes one that writes the patients' table. Only then is the row re-read and compared:
    a reading opening that wrote nothing to the patient (nearly all) re-reads nothing, where
    the check used to re-read every encrypted column after every opening."""

    def __init__(self, table: str):
        self.quoted = f'"{table}"'
        self.bare = table
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote and isinstance(sql, str):
            head = sql.lstrip()[:6].upper()
            if head.startswith(_WRITE_VERBS) and (self.quoted in sql or self.bare in sql):
                self.wrote = True
        return execute(sql, params, many, context)


class _UnrecordedChange(Exception):
    pass


class _RestrictedMeanwhile(Exception):
    """The row re-read inside the block's transaction is gone or restricted: (code, message)."""


@contextmanager
def _inside(chart: Chart) -> Iterator[Chart]:
    try:
        with transaction.atomic():
            connection = transaction.get_connection()
            if chart.for_update:
                # The row as of this transaction, locked: what the block changes, and what the
                # unrecorded-change check compares with (nobody else can change it meanwhile).
                current = _reread_patient(chart.patient.pk, for_update=True)
                if current is None:
                    raise _RestrictedMeanwhile("not_found", "patient")
                restricted = _restriction(current, chart.purpose)
                if restricted is not None:
                    raise _RestrictedMeanwhile(*restricted)
                chart._take(current)
                watch = None
            else:
                # A reading block reads the row the checks read (query b), a moment before its
                # opening entry: no second read. A shred since then is refused here from the
                # tombstone (written before the shred commits; a file check, no query), and the
                # vault refuses the key anyway (tombstone, key generation).
                if tombstones.is_shredded(str(chart.patient.pk)):
                    raise _RestrictedMeanwhile(*_restriction(chart.patient, chart.purpose))
                watch = _PatientWrites(type(chart.patient)._meta.db_table)
            with allow(chart.categories, subjects={chart.patient.pk}), (
                connection.execute_wrapper(watch) if watch is not None else nullcontext()
            ):
                _note_key_generation(chart.patient)
                chart._is_open = True
                try:
                    yield chart
                finally:
                    chart._is_open = False
            # A block that swallowed a database error leaves the transaction to be rolled back:
            # nothing it changed will stay, so there is nothing to check. A reading block is
            # checked only if it wrote to the patients' table (it may not change PHI at all).
            if connection.needs_rollback or (watch is not None and not watch.wrote):
                unrecorded = []
            else:
                unrecorded = chart._unrecorded_changes()
            if unrecorded:
                chart._attempt.detail["fields"] = unrecorded
                raise _UnrecordedChange
    except _UnrecordedChange:
        raise chart._attempt.refuse(
            "change_without_reason", "a field of the record changed without a recorded reason (REC4); nothing was saved"
        ) from None
    except _RestrictedMeanwhile as exc:
        code, message = exc.args
        raise chart._attempt.refuse(code, message, not_found=code == "not_found") from None


def _open(attempt: _Attempt, patient, purpose: Purpose, granted: frozenset[str], glass_reason: str | None, *, for_update: bool) -> Chart:
    from confide.access.models import BreakGlassReason

    opened = dict(
        practice_id=patient.practice_id,
        actor=attempt.audit_actor,
        purpose=purpose.value,
        subject_id=patient.pk,
        categories=granted,
        request=attempt.request,
    )
    if not glass_reason:
        entry = record(AuditEvent.CHART_OPENED, **opened)  # atomic by itself
        return Chart(attempt=attempt, patient=patient, purpose=purpose, categories=granted, entry=entry, for_update=for_update)
    if glass_reason is CONTINUED:  # flagged, naming the opening it continues; its reason and notice were that one's
        detail = {"break_glass": True, "continues": attempt.detail["continues"]}
        entry = record(AuditEvent.CHART_OPENED, reason=BREAK_GLASS, flagged=True, detail=detail, **opened)
        return Chart(
            attempt=attempt, patient=patient, purpose=purpose, categories=granted, break_glass=True, entry=entry, for_update=for_update
        )
    with transaction.atomic():  # the flagged entry, the typed reason and the notice: together
        entry = record(AuditEvent.CHART_OPENED, reason=BREAK_GLASS, flagged=True, detail={"break_glass": True}, **opened)
        with allow({policy.BREAK_GLASS_REASON}, subjects={patient.pk}):
            BreakGlassReason.objects.create(
                practice_id=patient.practice_id, patient=patient, audit_entry=entry,
                opened_by_id=attempt.actor.user_id, reason=glass_reason,
            )  # fmt: skip
        recipients = _reviewer_emails()
        notice = _break_glass_notice(entry)
        transaction.on_commit(lambda: _send_break_glass_notice(recipients, notice), robust=True)
    return Chart(
        attempt=attempt, patient=patient, purpose=purpose, categories=granted, break_glass=True, entry=entry, for_update=for_update
    )


def _reviewer_emails() -> list[str]:
    from confide.accounts.models import Membership

    return sorted(
        Membership.objects.filter(role__in=[r.value for r in policy.BREAK_GLASS_REVIEWERS], is_active=True, user__is_active=True)
        .values_list("user__email", flat=True)
    )


def _break_glass_notice(entry) -> str:
    link = f"{getattr(settings, 'CONFIDE_BASE_URL', '').rstrip('/')}{reverse('access:break-glass-report')}"
    return (
        "A clinician opened a patient's chart outside their normal access (break-the-glass) and gave a reason.\n\n"
        f"Practice: {entry.practice_id}\n"
        f"Audit entry: {entry.chain} id {entry.id}\n"  # its seq comes from the sealer, a moment after this
        f"Patient id: {entry.subject_id}\n"
        f"Opened by user id: {entry.actor_id} (role {entry.actor_role})\n"
        f"Purpose: {entry.purpose}\n"
        f"Categories: {', '.join(entry.categories)}\n"
        f"At: {entry.at.isoformat()}\n\n"
        "The reason is shown only in Confide, in the break-the-glass report for privacy officers:\n"
        f"{link}\n"
    )


def _send_break_glass_notice(recipients: list[str], body: str) -> None:
    if recipients:
        send_mail(
            subject="Confide: a chart was opened with break-the-glass",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    else:
        logger.warning("break-the-glass opening with no privacy officer to notify")


# --- the doors ----------------------------------------------------------------------------------
@contextmanager
def open_chart(
    actor,
    patient_id,
    purpose,
    *,
    categories: Iterable[str] | None = None,
    break_glass_reason: str | None = None,
    break_glass_continues=None,
    request=None,
    for_update: bool = False,
) -> Iterator[Chart]:
    """Open a patient's chart for `purpose`: all the role may see for it (`categories=None`),
    or exactly `categories`. A clinician may pass `break_glass_reason` to open beyond the
    normal grant (flagged, the privacy officer notified). `for_update=True` for a block that
    writes: the patient's row is locked for the block's transaction and changes may be
    recorded; without it the opening only reads."""
    continuing = break_glass_continues is not None and break_glass_reason is None and categories is not None
    attempt = _Attempt.start(actor, request, break_glass=break_glass_reason is not None or continuing)
    _check_actor(attempt, patients=True)
    with acting_in_practice(attempt):
        purpose = _check_purpose(attempt, purpose)
        wanted = _check_known_categories(attempt, categories)
        role = _check_membership(attempt)
        if isinstance(actor, PatientActor):
            _check_portal_link(attempt, patient_id)
        patient = _load_patient(attempt, patient_id, with_ledger=_needs_consent(attempt, purpose))
        _check_restrictions(attempt, patient, purpose)
        _check_consent(attempt, purpose, patient, _consent_categories(attempt, role, purpose, wanted))
        if continuing:
            granted, glass_reason = _check_continuation(attempt, role, purpose, wanted, patient, break_glass_continues)
        else:
            granted, glass_reason = _check_grant(attempt, role, purpose, wanted, break_glass_reason)
        if for_update and transaction.get_connection().in_atomic_block:
            # The opening entry below joins the caller's transaction and locks the audit chain
            # head until it commits: the patient's row must be locked before it (access/locks.py).
            _reread_patient(patient.pk, for_update=True)
        chart = _open(attempt, patient, purpose, granted, glass_reason, for_update=for_update)
        with _inside(chart):
            yield chart


def refuse_break_glass(actor, patient_id, purpose, *, categories: Iterable[str], request=None) -> Exception:
    """Record a break-the-glass request made where none was offered (the browser path offers it
    only on a refused tab the rule would open: records/chart.py `break_glass_offered`) as a
    flagged `access:denied` entry, code `break_glass_not_offered`, and return the error to
    raise. The usual checks first: another practice's patient is the same NotFound as a missing one."""
    attempt = _Attempt.start(actor, request, break_glass=True)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        _check_purpose(attempt, purpose)
        _check_known_categories(attempt, categories)
        _check_membership(attempt)
        _load_patient(attempt, patient_id)
        return attempt.refuse("break_glass_not_offered", "break-the-glass is offered only where a refused page allows it")


@contextmanager
def create_chart(actor, purpose, *, categories: Iterable[str], request=None) -> Iterator[Chart]:
    """The door for a new patient: yields a Chart whose `.patient` is a new, unsaved Patient of
    the actor's practice. The block sets its fields and saves it; the door then writes one
    `records:patient:created` entry (the fields set, the categories) in the same transaction."""
    Patient = patient_model()

    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        purpose = _check_purpose(attempt, purpose)
        wanted = _check_known_categories(attempt, categories if categories is not None else ())
        role = _check_membership(attempt)
        _check_consent(attempt, purpose)
        granted, _ = _check_grant(attempt, role, purpose, wanted, None)
        patient = Patient(practice_id=attempt.practice_id)
        attempt.subject_id = patient.pk
        chart = Chart(attempt=attempt, patient=patient, purpose=purpose, categories=granted, creating=True)
        with transaction.atomic():
            with allow(granted, subjects={patient.pk}):
                chart._is_open = True
                try:
                    yield chart
                finally:
                    chart._is_open = False
            if patient._state.adding:
                raise RuntimeError("create_chart: the block must save chart.patient")
            chart.entry = record(
                AuditEvent.PATIENT_CREATED,
                practice_id=patient.practice_id,
                actor=attempt.audit_actor,
                purpose=purpose.value,
                subject_id=patient.pk,
                categories=granted,
                fields_changed=[f.name for f in encrypted_fields(Patient) if patient.__dict__.get(f.attname) is not None],
                request=request,
            )


@contextmanager
def open_patient_list(actor, purpose, patient_ids: Iterable, *, categories: Iterable[str], request=None) -> Iterator[list]:
    """Open `categories` (e.g. name and contact) of several patients for a list, with ONE
    `records:patients:listed` entry whose resource_ids name every patient shown.

    Opening each chart would write one entry per row of every search: the lesson of OpenEMR's
    log. A list is not a chart: no break-the-glass, no changes (the allowance is for reading).
    Ids not in the actor's practice, inactive or shredded are left out, silently: a list shows
    what may be listed. So are, for a purpose that needs consent, patients whose consent does
    not cover the categories listed (a marketing list by e-mail lists those who agreed to it)."""

    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        purpose = _check_purpose(attempt, purpose)
        wanted = _check_known_categories(attempt, categories if categories is not None else ())
        role = _check_membership(attempt)
        granted, _ = _check_grant(attempt, role, purpose, wanted, None)
        order = {}
        for raw in patient_ids:
            pk = _as_uuid(getattr(raw, "pk", raw))
            if pk is not None:
                order.setdefault(pk, len(order))
        # Only the columns of the categories granted are loaded: a list shows a few fields, and a
        # patient row holds the whole chart (its clinical lists run to 100 KiB). A column left
        # out reads as absent, like any value the allowance does not cover.
        model = patient_model()
        unlisted = [f.name for f in encrypted_fields(model) if f.category not in granted]
        found = model.objects.filter(pk__in=list(order), is_active=True).defer(*unlisted) if order else []
        shredded = tombstones.shredded()
        patients = sorted((p for p in found if str(p.pk) not in shredded), key=lambda p: order[p.pk])
        if patients and _needs_consent(attempt, purpose):
            from confide.consent.services import patients_with_consent

            consenting = patients_with_consent(attempt.practice_id, [p.pk for p in patients], purpose, granted)
            patients = [p for p in patients if str(p.pk) in consenting]
        record(
            AuditEvent.PATIENTS_LISTED,
            practice_id=attempt.practice_id,
            actor=attempt.audit_actor,
            purpose=purpose.value,
            resource_ids=[p.pk for p in patients],
            categories=granted,
            detail={"count": len(patients)},
            request=request,
        )
        with allow(granted, subjects={p.pk for p in patients}):
            yield patients


# --- psychotherapy notes: a door of their own --------------------------------------------------
# What a page of psychotherapy notes shows besides them: who the patient is (its header).
PSYCHOTHERAPY_HEADER = frozenset({policy.NAME, policy.DOB})

@dataclass
class PsychotherapyChart:
    """An open door to one patient's psychotherapy notes *by this author*: `.notes` holds them
    (newest first), decryptable while the door is open; nothing else of the patient is granted."""

    actor: StaffActor
    patient: object
    notes: list
    entry: object
    request: object = None


@contextmanager
def open_psychotherapy_notes(actor, patient_id, *, request=None, with_header: bool = False) -> Iterator[PsychotherapyChart]:
    """HIPAA keeps psychotherapy notes apart: only the clinician who writes them reads them.

    Checks the actor (a staff member whose role writes them: `policy.PSYCHOTHERAPY_AUTHOR_ROLES`),
    the membership (re-read), the patient (another practice's is NotFound), restrictions; then
    loads the notes *this author* wrote for the patient — the rule is per note, so the door
    itself picks the rows — writes one `records:chart:opened` entry (category
    health.psychotherapy_notes, resource ids of the notes) and opens an allowance for that
    category bound to this patient. No break-the-glass, no other role, no other author's notes:
    those are for a disclosure with the patient's specific authorization (the export, later).

    `with_header=True`: the same opening also grants the patient's name and date of birth (the
    page's header), so a page of psychotherapy notes is ONE opening, not a chart opening plus
    this one. The entry then lists those categories too; like every entry about psychotherapy
    notes it is its author's alone on screen (audit/reports.py)."""
    PsychotherapyNote = apps.get_model(PSYCHOTHERAPY_NOTE_MODEL)

    granted = frozenset({policy.PSYCHOTHERAPY_NOTES}) | (PSYCHOTHERAPY_HEADER if with_header else frozenset())
    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        attempt.purpose = Purpose.TREATMENT.value
        attempt.categories = granted
        if not isinstance(actor, StaffActor):
            raise attempt.refuse("psychotherapy_notes_author_only", "psychotherapy notes are opened only by their author")
        role = _check_membership(attempt)
        patient = _load_patient(attempt, patient_id)
        _check_restrictions(attempt, patient, Purpose.TREATMENT)
        if role not in policy.PSYCHOTHERAPY_AUTHOR_ROLES:
            raise attempt.refuse("psychotherapy_notes_author_only", "only a treating clinician writes and reads psychotherapy notes")
        if not granted - {policy.PSYCHOTHERAPY_NOTES} <= policy.categories_for(role, Purpose.TREATMENT):
            raise attempt.refuse("category_not_granted", "this role may not see the patient's name for treatment")
        notes = list(PsychotherapyNote.objects.filter(patient_id=patient.pk, author_id=actor.user_id).order_by("-created_at"))
        entry = record(
            AuditEvent.CHART_OPENED,
            practice_id=patient.practice_id,
            actor=actor,
            purpose=Purpose.TREATMENT.value,
            subject_id=patient.pk,
            resource_ids=[n.pk for n in notes],
            categories=granted,
            request=request,
        )
        chart = PsychotherapyChart(actor=actor, patient=patient, notes=notes, entry=entry, request=request)
        with transaction.atomic(), allow(granted, subjects={patient.pk}):
            _note_key_generation(patient)
            yield chart


# --- online consultations: subjects that are not patients yet -----------------------------------
# The public consultation form writes as this job: what the form asks for, nothing else.
CONSULT_FORM_JOB = SystemJob(
    "consult-form",
    frozenset({policy.NAME, policy.DOB, policy.EMAIL, policy.PHONE, policy.GUARDIAN, policy.INTAKE, policy.MEDICATIONS, policy.PHOTOS}),
    frozenset({Purpose.TREATMENT}),
)
SYSTEM_JOBS[CONSULT_FORM_JOB.name] = CONSULT_FORM_JOB

# --- amend part: amendments (RTS3) and records release (DSC1) ----------------------------------
# An amendment's sealed texts (what the patient asks, the reviewer's explanation, the statement
# of disagreement, the rebuttal): correspondence about the record, sealed as messages
# (confide/rights/amendments.py); it writes those and reads them for the packet; nothing else.
AMENDMENT_JOB = SystemJob("amendment-job", frozenset({policy.MESSAGES}), frozenset({Purpose.PATIENT_REQUEST, Purpose.TREATMENT}))
# A records release link (confide/rights/release.py): the package a recipient opens — who the
# patient is, the clinical categories the link names (never psychotherapy notes), and the
# amendment packet of a disputed part (messages) that travels with it (§164.526(d)(5)).
RELEASE_JOB = SystemJob(
    "records-release-job",
    frozenset({policy.NAME, policy.DOB, policy.BACKGROUND, policy.MEDICATIONS, policy.ALLERGIES, policy.CONDITIONS,
               policy.IMMUNIZATIONS, policy.NOTES, policy.MESSAGES}),
    frozenset({Purpose.PATIENT_REQUEST}),
)  # fmt: skip
SYSTEM_JOBS[AMENDMENT_JOB.name] = AMENDMENT_JOB
SYSTEM_JOBS[RELEASE_JOB.name] = RELEASE_JOB
# --- end amend part


@contextmanager
def write_new_subject(actor, purpose, *, categories: Iterable[str], subject_id, request=None) -> Iterator[None]:
    """The door for a record that is its own data subject and does not exist yet (a visitor's
    online consultation): the same checks of actor, purpose and categories as any opening, then
    an allowance for exactly those categories bound to the new subject's id. The service
    writes its own audit entry (ids and categories) in the same transaction."""
    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        purpose = _check_purpose(attempt, purpose)
        wanted = _check_known_categories(attempt, categories)
        role = _check_membership(attempt)
        attempt.subject_id = _as_uuid(subject_id)
        granted, _ = _check_grant(attempt, role, purpose, wanted, None)
        with transaction.atomic(), allow(granted, subjects={subject_id}):
            yield


@dataclass
class IntakeChart:
    submission: object
    categories: frozenset[str]
    entry: object


@contextmanager
def open_intake(actor, submission_id, *, categories: Iterable[str] | None = None, request=None) -> Iterator[IntakeChart]:
    """Staff reviewing an online consultation: the actor's membership, the submission in the
    actor's practice (another practice's is the same NotFound as a missing one), and the
    categories within the role's grant for treatment (clinicians and owners: front desk and
    billing see no consultation answers). One `records:intake:opened` entry; the allowance is
    bound to the submission's own key."""
    IntakeSubmission = apps.get_model(INTAKE_SUBMISSION_MODEL)

    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        purpose = _check_purpose(attempt, Purpose.TREATMENT)
        wanted = _check_known_categories(attempt, categories if categories is not None else CONSULT_FORM_JOB.categories)
        role = _check_membership(attempt)
        pk = _as_uuid(submission_id)
        attempt.subject_id = pk
        submission = IntakeSubmission.objects.filter(pk=pk).first() if pk is not None else None
        if submission is None or submission.status != IntakeSubmission.Status.RECEIVED:
            raise attempt.refuse("not_found", "consultation", not_found=True)
        granted, _ = _check_grant(attempt, role, purpose, wanted, None)
        entry = record(
            AuditEvent.INTAKE_OPENED, practice_id=submission.practice_id, actor=attempt.audit_actor, purpose=purpose.value,
            subject_id=submission.pk, categories=granted, request=request,
        )  # fmt: skip
        with transaction.atomic(), allow(granted, subjects={submission.pk}):
            yield IntakeChart(submission=submission, categories=granted, entry=entry)


# The queue of consultations waiting for review: who (name; the date of birth for an age band)
# and why (the answers, of which the queue shows the reason).
INTAKE_QUEUE_CATEGORIES = frozenset({policy.NAME, policy.DOB, policy.INTAKE})


@dataclass
class IntakeQueue:
    submissions: list
    purpose: Purpose
    entry: object


@contextmanager
def open_intake_queue(actor, *, request=None) -> Iterator[IntakeQueue]:
    """The consultations waiting for review, oldest first, as ONE list opening: one
    `records:intake:listed` entry whose resource_ids name every consultation shown (like the
    patient list; not one entry per row). A role whose treatment grant holds the queue's
    categories (clinician, owner) opens it for treatment; another role only through a grant its
    practice's declaration switches on (`front_desk_consultation_queue`, for operations).
    Anyone else: an `access:denied` entry, and AccessRefused."""
    IntakeSubmission = apps.get_model(INTAKE_SUBMISSION_MODEL)

    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        purpose = _check_purpose(attempt, Purpose.TREATMENT)
        wanted = _check_known_categories(attempt, INTAKE_QUEUE_CATEGORIES)
        if not isinstance(actor, StaffActor):
            raise attempt.refuse("nothing_granted", "the consultation queue is for staff")
        role = _check_membership(attempt)
        if not wanted <= policy.categories_for(role, Purpose.TREATMENT):
            declared = next((p for _, p, granted in policy.declared_grants(attempt.practice_id, role) if wanted <= granted), None)
            if declared is None:
                raise attempt.refuse("category_not_granted", "this role does not see the consultation queue unless the practice's declaration allows it")
            purpose = _check_purpose(attempt, declared)
        submissions = list(IntakeSubmission.objects.filter(status=IntakeSubmission.Status.RECEIVED).select_related("form").order_by("created_at"))
        entry = record(
            AuditEvent.INTAKE_LISTED, practice_id=attempt.practice_id, actor=attempt.audit_actor, purpose=purpose.value,
            resource_ids=[s.pk for s in submissions], categories=wanted, detail={"count": len(submissions)}, request=request,
        )  # fmt: skip
        with transaction.atomic(), allow(wanted, subjects={s.pk for s in submissions}):
            yield IntakeQueue(submissions=submissions, purpose=purpose, entry=entry)


@contextmanager
def open_psychotherapy_notes_for_release(actor, patient_id, *, request=None, rights_request_id=None) -> Iterator[PsychotherapyChart]:
    """Psychotherapy notes leave only with the patient's specific authorization (HIPAA
    §164.508(a)(2)), recorded in the consent ledger (topic psychotherapy_notes_disclosure), and
    only to the patient's own portable copy: the actor must be the registered FHIR export job.
    Every author's *signed* notes of the patient are handed over (a draft is not yet part of
    the record); the opening is one `records:chart:opened` entry with the reason code
    `authorized-release` and the notes' ids."""
    from confide.consent import services as consent
    from confide.consent.topics import Topic

    PsychotherapyNote = apps.get_model(PSYCHOTHERAPY_NOTE_MODEL)

    attempt = _Attempt.start(actor, request)
    _check_actor(attempt)
    with acting_in_practice(attempt):
        attempt.purpose = Purpose.PATIENT_REQUEST.value
        attempt.categories = frozenset({policy.PSYCHOTHERAPY_NOTES})
        if not isinstance(actor, SystemActor) or actor.name not in (FHIR_EXPORT_JOB.name, RIGHTS_EXPORT_JOB.name):
            raise attempt.refuse("psychotherapy_notes_author_only", "psychotherapy notes are released only into the patient's own copy")
        patient = _load_patient(attempt, patient_id)
        _check_restrictions(attempt, patient, Purpose.PATIENT_REQUEST)
        if actor.name == RIGHTS_EXPORT_JOB.name:
            # Part "export": the rights request on which staff recorded the patient's specific
            # authorization (rights.RightsRequest.psychotherapy_authorized), for this very patient.
            RightsRequest = apps.get_model("rights", "RightsRequest")
            authorized = rights_request_id is not None and RightsRequest.objects.filter(
                pk=_as_uuid(rights_request_id), patient_id=patient.pk, psychotherapy_authorized=True
            ).exists()
        else:
            authorized = consent.state(consent.Subject.patient(patient.practice_id, patient.pk), Topic.PSYCHOTHERAPY_DISCLOSURE).granted
        if not authorized:
            raise attempt.refuse("psychotherapy_not_authorized", "the patient has not authorized the release of psychotherapy notes")
        notes = list(PsychotherapyNote.objects.filter(patient_id=patient.pk, status=PsychotherapyNote.Status.SIGNED).order_by("signed_at"))
        entry = record(
            AuditEvent.CHART_OPENED,
            practice_id=patient.practice_id,
            actor=attempt.audit_actor,
            purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=patient.pk,
            resource_ids=[n.pk for n in notes],
            categories={policy.PSYCHOTHERAPY_NOTES},
            reason="authorized-release",
            request=request,
        )
        chart = PsychotherapyChart(actor=actor, patient=patient, notes=notes, entry=entry, request=request)
        with transaction.atomic(), allow({policy.PSYCHOTHERAPY_NOTES}, subjects={patient.pk}):
            _note_key_generation(patient)
            yield chart
