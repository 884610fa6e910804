"""Online consultations (REC2, REC5, MIN1, MIN2): a practice's public form, the review queue, and
turning an accepted consultation into a chart.

    form = current_form(practice_id)                       # the active questions and authorization
    submission = check_submit_consultation(practice=…, data=…, files=…, client_ip=…)
    queue = list_queue(actor)                              # ids and dates only
    review = review_submission(actor, submission_id)       # the answers, possible duplicates
    patient = do_accept(actor=…, submission_id=…, merge_into=None | patient id)
    do_reject(actor=…, submission_id=…)

Submitting checks, cheapest first, before anything is stored: the attempt is counted against
the client's hourly limit (every attempt, refused ones too, in the database: `_count_attempt`),
the honeypot (a filled hidden field: answered as a success, nothing kept), the one-time token
(signed, this practice's, not used yet; a double submit is "already received", not a second
row), the number of files, the contact details, the **age rule of the practice's privacy
declaration** (below the minimum age the consultation is refused without keeping anything,
unless the practice lets a parent or guardian start care and one does; from the minimum age
until 18 a parent's or guardian's name, relationship and authorization are required), every
typed answer against its question, and the explicit authorization. Only then are photos looked
at: their size, the pixel count their header declares, and only then decoded and re-encoded
without EXIF (vault/files.py::validate_upload). The submission is written — sealed under its own
key, as a data subject of its own — with its encrypted photos and one `records:intake:received`
entry, in one transaction whose first statement claims the token (`UsedIntakeToken`, unique per
practice): of several submissions of one form at once exactly one commits.

Accepting creates a patient (or fills in an existing one found by blind index: email, phone,
date of birth and name) through the records services, moves the photos into the chart, and
shreds the submission's key; rejecting deletes the submission and shreds its key. The
consultation's answers go into the chart's `intake_answers` list, as asked and as answered.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Literal

import phonenumbers
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from confide.access import locks
from confide.access.door import CONSULT_FORM_JOB, open_intake, open_patient_list, write_new_subject
from confide.core.purposes import Purpose
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Perm
from confide.core.text import check_line, line_problem, lower_first
from confide.consent import services as consent
from confide.consent.actors import ApplicantActor
from confide.consent.topics import Topic
from confide.records import clinical
from confide.records.models import IntakeAttempts, IntakeForm, IntakePhoto, IntakeSubmission, UsedIntakeToken
from confide.records.uploads import SpooledUpload, check_file_count
from confide.records.values import phone_number
from confide.vault import blind_index, keys
from confide.vault.files import JPEG, PNG, EncryptedStorage, FileRejected, validate_upload
from confide.vault.spool import EncryptedSpool

TOKEN_SALT = "confide.intake.token"
TOKEN_MAX_AGE = 24 * 3600


# --- the form ---------------------------------------------------------------------------------------
# The form's own texts follow the rule for all text (confide/core/text.py): a label, a choice and
# a help text are one line; the authorization may have paragraphs.
_one_line = AfterValidator(check_line)
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), _one_line]


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: Label
    type: Literal["text", "long_text", "choice", "date", "medications", "photo"]
    required: bool = False
    choices: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), _one_line]] = Field(default_factory=list, max_length=20)
    help: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), _one_line] = ""

    @model_validator(mode="after")
    def _choices(self) -> Question:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice question needs at least two choices")
        if self.type != "choice" and self.choices:
            raise ValueError("only a choice question has choices")
        return self


class FormDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    questions: list[Question] = Field(min_length=1, max_length=40)
    authorization_text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=40, max_length=4000),
                                  AfterValidator(lambda value: check_line(value, multiline=True))]

    @model_validator(mode="after")
    def _unique(self) -> FormDefinition:
        ids = [q.id for q in self.questions]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise ValueError(f"two questions have the id {duplicate!r}")
        return self


DEFAULT_FORM = {
    "questions": [
        {"id": "reason", "label": "What would you like help with?", "type": "long_text", "required": True},
        {"id": "since", "label": "How long has this been going on?", "type": "choice", "required": True,
         "choices": ["Less than a week", "A few weeks", "A few months", "A year or more"]},
        {"id": "medications", "label": "Medicines you take now, prescription or over the counter (one per line, with the dose if you know it)",
         "type": "medications"},
        {"id": "allergies", "label": "Allergies, if any", "type": "text"},
        {"id": "photo", "label": "A photo, if it helps (JPEG or PNG)", "type": "photo",
         "help": "Photos are encrypted; only the clinicians reviewing your consultation see them."},
        {"id": "contact_time", "label": "When may we call you?", "type": "choice", "choices": ["Mornings", "Afternoons", "Evenings", "Any time"]},
    ],
    "authorization_text": (
        "I authorize this practice to collect the health information I give in this form, including any photo, and to use "
        "it to review my request and, if it accepts me as a patient, for my care. I understand that it is kept encrypted, "
        "that only the practice's clinicians see it, that it is deleted if the practice does not accept my request, and "
        "that I can ask what is held about me at any time, as the practice's privacy notice explains."
    ),
}  # fmt: skip


def current_form(practice_id) -> IntakeForm:
    """The practice's active form, or version 1 (the default) made on first use."""
    form = IntakeForm.objects.filter(is_active=True).order_by("-version").first()
    if form is None:
        definition = FormDefinition.model_validate(DEFAULT_FORM)
        form = IntakeForm.objects.create(
            practice_id=practice_id, version=1, questions=[q.model_dump() for q in definition.questions],
            authorization_text=definition.authorization_text,
        )  # fmt: skip
    return form


def form_definition_toml(form: IntakeForm) -> str:
    """The form as the TOML the owner edits (questions as [[questions]] tables)."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(i) for i in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"authorization_text = {value(form.authorization_text)}", ""]
    for q in form.questions:
        lines.append("[[questions]]")
        lines += [f"{k} = {value(v)}" for k, v in q.items() if v not in ("", [], False)]
        lines.append("")
    return "\n".join(lines)


def do_update_form(*, actor: StaffActor, definition_toml: str, request=None) -> IntakeForm:
    """A new version of the practice's form from TOML; the old version stays for the
    submissions that used it. PolicyError-style errors name the line."""
    from confide.policy.loader import PolicyError, explain, key_lines, parse_toml

    if not isinstance(actor, StaffActor) or not actor.has(Perm.INTAKE_CONFIGURE):
        raise Forbidden(Perm.INTAKE_CONFIGURE)
    data = parse_toml(definition_toml, source="form")  # PolicyError naming the line, nesting limit included
    try:
        definition = FormDefinition.model_validate(data)
    except ValidationError as exc:
        loc, message = explain(exc)
        lines, where, line = key_lines(definition_toml), loc, None
        while where and line is None:
            line, where = lines.get(where), where[:-1]
        raise PolicyError(f"{'.'.join(str(p) for p in loc) or '(top level)'}: {message}", source="form", line=line) from None
    with transaction.atomic():
        current = current_form(actor.practice_id)
        questions = [q.model_dump() for q in definition.questions]
        if questions == current.questions and definition.authorization_text == current.authorization_text:
            raise InvalidInput("The form is unchanged.")
        IntakeForm.objects.filter(is_active=True).update(is_active=False)
        form = IntakeForm.objects.create(
            practice_id=actor.practice_id, version=current.version + 1, questions=questions,
            authorization_text=definition.authorization_text, created_by_id=actor.user_id,
        )  # fmt: skip
        record(AuditEvent.INTAKE_FORM_CHANGED, practice_id=actor.practice_id, actor=actor, purpose="operations",
               resource_ids=[form.pk], detail={"version": form.version}, request=request)  # fmt: skip
    return form


def authorization_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- submitting ------------------------------------------------------------------------------------
class Honeypot(Exception):
    """The hidden field was filled: a bot. The view thanks it; nothing is kept."""


class AlreadyReceived(Exception):
    """The same form was submitted twice: the first one counts."""


class TooMany(InvalidInput):
    """The client sent more consultations than the hourly limit."""


TOO_MANY = "Too many consultations were sent from this connection. Please try again in an hour, or call the practice."
EXPIRED = "This form has expired. Please reload the page and send it again."


def new_token(practice_id) -> str:
    return signing.dumps({"p": str(practice_id), "n": uuid.uuid4().hex}, salt=TOKEN_SALT)


def _client_key(practice_id, client_ip: str) -> str:
    """A keyed hash of the address: the database never holds an address."""
    return hmac.new(settings.SECRET_KEY.encode(), f"{practice_id}:{client_ip}".encode(), hashlib.sha256).hexdigest()


def _count_attempt(practice_id, client_ip: str) -> None:
    """Count one attempt against the client's limit for this hour, or raise TooMany.

    Committed on its own, before anything else is looked at: a refused attempt counts as much
    as a stored one, which is what bounds the work (parsing, decoding a photo) one address can
    ask for. The increment is a conditional UPDATE (`count < limit`), so parallel requests
    cannot all read "4" and all pass: on PostgreSQL the row lock makes the second wait and
    re-check, on SQLite the writer lock serialises them. Counted in the database rather than the
    cache because `make run`'s cache is a directory whose increment is a read and a write, and
    the database is the one store every worker and every node shares in any deployment."""
    limit = settings.CONFIDE_CONSULT_PER_HOUR
    key = _client_key(practice_id, client_ip or "")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    this_hour = IntakeAttempts.objects.filter(client_key=key, window_start=hour)
    with transaction.atomic():
        if this_hour.filter(count__lt=limit).update(count=F("count") + 1, updated_at=now):
            return
        if not this_hour.exists():
            try:
                with transaction.atomic():
                    IntakeAttempts.objects.create(practice_id=practice_id, client_key=key, window_start=hour, count=1)
            except IntegrityError:
                pass  # another request from this client started the hour first: count on its row
            else:
                IntakeAttempts.objects.filter(window_start__lt=hour).delete()  # past hours count for nothing
                return
        # Once more: the hour's row may have been committed by another request since the first
        # UPDATE looked (PostgreSQL's UPDATE sees only rows committed when it started).
        if this_hour.filter(count__lt=limit).update(count=F("count") + 1, updated_at=now):
            return
    raise TooMany(TOO_MANY)


def _token_nonce(practice, data) -> uuid.UUID:
    """The one-time token's random part, if the token is this practice's, signed and fresh."""
    try:
        payload = signing.loads((data.get("token") or "").strip(), salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        raise InvalidInput(EXPIRED) from None
    if not isinstance(payload, dict) or payload.get("p") != str(practice.id):
        raise InvalidInput(EXPIRED)
    try:
        return uuid.UUID(str(payload.get("n")))
    except ValueError:
        raise InvalidInput(EXPIRED) from None


def _use_token(practice_id, nonce: uuid.UUID) -> None:
    """Inside the consultation's transaction: claim the token, or AlreadyReceived. Of several
    submissions of one form at once, the unique constraint lets one insert commit; the others
    wait for it (PostgreSQL) or for the writer lock (SQLite), then fail and roll back whole."""
    try:
        with transaction.atomic():
            UsedIntakeToken.objects.create(practice_id=practice_id, nonce=nonce)
    except IntegrityError:
        raise AlreadyReceived from None
    # A token is refused by its signature's age after a day: older rows guard nothing.
    UsedIntakeToken.objects.filter(created_at__lt=timezone.now() - datetime.timedelta(seconds=TOKEN_MAX_AGE)).delete()


@dataclass
class Contact:
    given_name: str
    family_name: str
    date_of_birth: datetime.date
    email: str
    phone: str


@dataclass
class Checked:
    contact: Contact
    guardian: dict | None
    answers: dict
    medications: list
    photos: list = field(default_factory=list)  # (question id, CleanUpload)
    submitted_by_guardian: bool = False


def age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _no_control_characters(label: str, value: str, *, multiline: bool = False) -> str:
    """The value if it passes the rule every text field follows (confide/core/text.py): one line
    without control characters, bidi overrides or only invisible characters; or, for a long
    answer, several lines with nothing else invisible."""
    problem = line_problem(value, multiline=multiline)
    if problem:
        raise InvalidInput(f"{label}: {lower_first(problem[1])}")
    return value


def _text(data, name: str, label: str, *, required: bool, limit: int = 300) -> str:
    value = _no_control_characters(label, (data.get(name) or "").strip())
    if required and not value:
        raise InvalidInput(f"{label}: please fill this in.")
    if len(value) > limit:
        raise InvalidInput(f"{label}: at most {limit} characters.")
    return value


def _contact(data) -> Contact:
    given = _text(data, "given_name", "First name", required=True)
    family = _text(data, "family_name", "Last name", required=True)
    try:
        born = datetime.date.fromisoformat((data.get("date_of_birth") or "").strip())
    except ValueError:
        raise InvalidInput("Date of birth: give it as YYYY-MM-DD.") from None
    if born > timezone.now().date() or born.year < 1900:
        raise InvalidInput("Date of birth: that date is not possible.")
    email = _text(data, "email", "Email", required=False, limit=254)
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise InvalidInput("Email: that is not an email address.") from None
    phone = _text(data, "phone", "Phone", required=False, limit=40)
    if phone:
        try:
            parsed = phonenumbers.parse(phone, "US")
            phone_number(phone)  # what the chart accepts, or accepting the consultation would fail later
        except (phonenumbers.NumberParseException, DjangoValidationError):
            parsed = None
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            raise InvalidInput("Phone: that is not a phone number (digits, spaces, + ( ) - . only).")
    if not email and not phone:
        raise InvalidInput("Give an email address or a phone number so the practice can answer you.")
    return Contact(given, family, born, email, phone)


def _age_rule(practice_id, contact: Contact, data) -> tuple[dict | None, bool]:
    """(guardian details or None, submitted by a guardian). Refuses, keeping nothing, where the
    practice's age rule says no."""
    from confide.policy.services import declaration_in_force

    rule = declaration_in_force(practice_id).age
    age = age_on(contact.date_of_birth, timezone.now().date())
    if age >= rule.guardian_until:
        return None, False
    below_minimum = age < rule.minimum
    if below_minimum and not rule.guardian_may_start_care_below_minimum:
        raise InvalidInput(
            f"This practice accepts online consultations from age {rule.minimum}. Nothing you entered has been kept; "
            "please contact the practice directly."
        )
    name = _text(data, "guardian_name", "Parent or guardian's name", required=False)
    relationship = _text(data, "guardian_relationship", "Relationship", required=False, limit=120)
    authorized = data.get("guardian_authorization") in ("on", "yes", "true", "1")
    if not (name and relationship and authorized):
        who = f"under {rule.minimum}" if below_minimum else f"between {rule.minimum} and {rule.guardian_until}"
        raise InvalidInput(
            f"For a patient {who}, a parent or guardian must give their name and relationship and authorize the "
            "consultation. Nothing you entered has been kept."
        )
    guardian = {
        "name": name, "relationship": relationship,
        "phone": _text(data, "guardian_phone", "Guardian's phone", required=False, limit=40),
        "email": _text(data, "guardian_email", "Guardian's email", required=False, limit=254),
    }  # fmt: skip
    try:
        clinical.Person.model_validate(guardian)
    except ValidationError:
        raise InvalidInput("Parent or guardian: check the details given.") from None
    return guardian, below_minimum


def _answers(form: IntakeForm, data, files) -> tuple[dict, list, list]:
    answers, medications, photos = {}, [], []
    for q in form.questions:
        label, key = q["label"], f"q_{q['id']}"
        if q["type"] == "photo":
            upload = files.get(key)
            if upload is None:
                if q.get("required"):
                    raise InvalidInput(f"{label}: please add a photo.")
                continue
            declared = (getattr(upload, "content_type", "") or "").split(";", 1)[0].strip().lower()
            if declared not in (JPEG, PNG):
                raise InvalidInput(f"{label}: a photo is a JPEG or PNG image.")
            photos.append((q, upload))  # checked and decoded by _validated_photos, once all else passed
            continue
        raw = _no_control_characters(label, (data.get(key) or "").strip(), multiline=q["type"] in ("long_text", "medications"))
        if not raw:
            if q.get("required"):
                raise InvalidInput(f"{label}: please answer this.")
            continue
        limit = 5000 if q["type"] in ("long_text", "medications") else 500
        if len(raw) > limit:
            raise InvalidInput(f"{label}: at most {limit} characters.")
        if q["type"] == "choice" and raw not in q["choices"]:
            raise InvalidInput(f"{label}: choose one of the options.")
        if q["type"] == "date":
            try:
                datetime.date.fromisoformat(raw)
            except ValueError:
                raise InvalidInput(f"{label}: give the date as YYYY-MM-DD.") from None
        if q["type"] == "medications":
            for line in raw.splitlines():
                line = line.strip()
                if line:
                    name, _, dose = line.partition(",")
                    try:
                        medications.append(clinical.Medication(name=name.strip()[:300] or line[:300], dose=dose.strip()[:120],
                                                               kind="prescription", status="active", note="from an online consultation").model_dump(mode="json"))  # fmt: skip
                    except ValidationError as exc:  # a line the chart's medication rules refuse (a tab, a bidi control …)
                        raise InvalidInput(f"{label}: {clinical.problems(exc)[0][1]}") from None
        answers[q["id"]] = raw
    return answers, medications, photos


def _validated_photos(pending: list) -> list:
    """(question id, CleanUpload) for each photo: size, then the pixel count its header declares,
    and only then a decode and re-encode (vault/files.py::validate_upload)."""
    photos = []
    try:
        for question, upload in pending:
            try:
                clean = validate_upload(upload, declared_content_type=getattr(upload, "content_type", ""))
            except FileRejected as exc:
                raise InvalidInput(f"{question['label']}: {exc}") from None
            photos.append((question["id"], clean))
            if clean.content_type not in (JPEG, PNG):
                raise InvalidInput(f"{question['label']}: a photo is a JPEG or PNG image.")
    except BaseException:
        _close(photos)
        raise
    return photos


def _close(photos: list) -> None:
    for _, clean in photos:
        clean.file.close()


def check_submit_consultation(*, practice, data, files, client_ip: str, request=None) -> IntakeSubmission:
    """Validate everything, cheapest first, then store the consultation (see the module
    docstring). Nothing is decoded before the attempt is counted, the token and every typed
    answer check out and the authorization is given."""
    _count_attempt(practice.id, client_ip)
    if (data.get("website") or "").strip():
        record(AuditEvent.INTAKE_REFUSED, practice_id=practice.id, actor=system_actor(CONSULT_FORM_JOB.name), reason="honeypot")
        raise Honeypot
    nonce = _token_nonce(practice, data)
    if UsedIntakeToken.objects.filter(nonce=nonce).exists():
        raise AlreadyReceived  # the usual double click; _use_token decides the simultaneous ones
    check_file_count(files)
    form = current_form(practice.id)
    if str(data.get("form_version") or "") != str(form.version):
        raise InvalidInput("The practice changed its form while you were filling it in. Please reload the page; your answers are not kept.")
    contact = _contact(data)
    guardian, by_guardian = _age_rule(practice.id, contact, data)
    answers, medications, pending_photos = _answers(form, data, files)
    if data.get("authorize") not in ("on", "yes", "true", "1"):
        raise InvalidInput("Please read the authorization and tick the box to agree: without it the practice cannot keep your answers.")
    photos = _validated_photos(pending_photos)

    submission_id = uuid.uuid4()
    actor = CONSULT_FORM_JOB.for_practice(practice.id)
    categories = {"identifiers.name", "identifiers.dob"} | {c for c, v in (("contact.email", contact.email), ("contact.phone", contact.phone)) if v}
    categories |= {"health.intake"} | ({"contact.guardian"} if guardian else set()) | ({"health.medications"} if medications else set())
    categories |= {"health.photos"} if photos else set()
    storage = EncryptedStorage()
    stored: list[str] = []
    try:
        with write_new_subject(actor, Purpose.TREATMENT, categories=categories, subject_id=submission_id):
            _use_token(practice.id, nonce)  # first: a duplicate stops before anything is written
            submission = IntakeSubmission(
                id=submission_id, practice_id=practice.id, form=form, authorization_hash=authorization_hash(form.authorization_text),
                submitted_by_guardian=by_guardian,
            )  # fmt: skip
            submission.given_name, submission.family_name = contact.given_name, contact.family_name
            submission.date_of_birth = contact.date_of_birth
            submission.email, submission.phone = contact.email or None, contact.phone or None
            submission.guardian = guardian
            submission.answers = answers
            submission.medications = medications or None
            submission.save(force_insert=True)
            for question_id, clean in photos:
                name = storage.save_encrypted("intake-photo", clean.file, practice_id=practice.id, subject_id=submission_id,
                                              content_type=clean.content_type, category="health.photos")  # fmt: skip
                stored.append(name)
                IntakePhoto.objects.create(practice_id=practice.id, submission=submission, question_id=question_id,
                                           stored_name=name, content_type=clean.content_type, size=clean.size)  # fmt: skip
            # REC2/REC5: kept only with the authorization, which goes into the consent ledger as the
            # applicant's (the consultation's id) with the hash of the exact text they agreed to.
            consent.do_grant(
                actor=ApplicantActor(practice.id, submission_id), subject=consent.Subject.applicant(practice.id, submission_id),
                topic=Topic.CONSULTATION_AUTHORIZATION, channel="web", method="form_button", shown_text=form.authorization_text,
                scope=f"intake-form:v{form.version}", request=request,
            )  # fmt: skip
            record(
                AuditEvent.INTAKE_RECEIVED, practice_id=practice.id, actor=system_actor(CONSULT_FORM_JOB.name),
                purpose=Purpose.TREATMENT.value, subject_id=submission_id, categories=categories,
                detail={"form_version": form.version, "photos": len(photos), "guardian": bool(guardian)},
            )  # fmt: skip
    except BaseException:
        for name in stored:  # the row did not commit: no ciphertext left behind
            storage.delete(name)
        raise
    finally:
        _close(photos)
    return submission


# --- reviewing -------------------------------------------------------------------------------------
def _check_reviewer(actor) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.INTAKE_REVIEW):
        raise Forbidden(Perm.INTAKE_REVIEW)


@dataclass(frozen=True)
class QueueRow:
    id: uuid.UUID
    received_at: datetime.datetime
    form_version: int
    photos: int
    guardian: bool


def list_queue(actor: StaffActor) -> list[QueueRow]:
    """Consultations waiting for review, oldest first: ids, dates and counts, no PHI (the
    answers are read one consultation at a time, through the door)."""
    _check_reviewer(actor)
    rows = IntakeSubmission.objects.filter(status=IntakeSubmission.Status.RECEIVED).select_related("form").order_by("created_at")
    counts: dict = {}
    for submission_id in IntakePhoto.objects.filter(submission__in=rows).values_list("submission_id", flat=True):
        counts[submission_id] = counts.get(submission_id, 0) + 1
    return [QueueRow(r.pk, r.created_at, r.form.version, counts.get(r.pk, 0), r.submitted_by_guardian) for r in rows]


@dataclass
class Review:
    id: uuid.UUID
    received_at: datetime.datetime
    given_name: str
    family_name: str
    date_of_birth: datetime.date
    age: int
    email: str
    phone: str
    guardian: dict | None
    submitted_by_guardian: bool
    answers: list  # (question label, answer)
    medications: list
    photos: list  # (IntakePhoto id, question label)
    duplicates: list  # (patient id, display name, why)


def _duplicate_ids(practice_id, contact: dict) -> dict:
    found: dict = {}
    for kind, value, why in (("email", contact.get("email"), "same email"), ("phone", contact.get("phone"), "same phone")):
        if value:
            try:
                for pk in blind_index.search(practice_id, kind, value):
                    found.setdefault(pk, why)
            except blind_index.NotSearchable:
                pass
    born = blind_index.search(practice_id, "dob", contact["date_of_birth"])
    family = blind_index.search(practice_id, "name", contact["family_name"])
    for pk in born & family:
        found.setdefault(pk, "same date of birth and last name")
    return found


def _in_form_order(form: IntakeForm, answers) -> list[tuple[str, str]]:
    """(question label, answer) in the order the form asked them (stored JSON has no order)."""
    answers = dict(answers or {})
    ordered = [(q["label"], answers.pop(q["id"])) for q in form.questions if q["id"] in answers]
    return ordered + sorted(answers.items())


def review_submission(actor: StaffActor, submission_id, *, request=None) -> Review:
    _check_reviewer(actor)
    with open_intake(actor, submission_id, request=request) as chart:
        s = chart.submission
        contact = {"email": s.email or "", "phone": s.phone or "", "date_of_birth": s.date_of_birth, "family_name": str(s.family_name)}
        form = s.form
        labels = {q["id"]: q["label"] for q in form.questions}
        review = Review(
            id=s.pk, received_at=s.created_at, given_name=str(s.given_name), family_name=str(s.family_name),
            date_of_birth=s.date_of_birth, age=age_on(s.date_of_birth, timezone.now().date()), email=contact["email"],
            phone=contact["phone"], guardian=s.guardian, submitted_by_guardian=s.submitted_by_guardian,
            answers=_in_form_order(form, s.answers), medications=list(s.medications or []),
            photos=[(p.pk, labels.get(p.question_id, p.question_id)) for p in s.photos.all()], duplicates=[],
        )  # fmt: skip
        duplicates = _duplicate_ids(s.practice_id, contact)
    if duplicates:
        with open_patient_list(actor, Purpose.OPERATIONS, list(duplicates), categories={"identifiers.name", "identifiers.dob"}, request=request) as patients:
            review.duplicates = [(p.pk, f"{p.given_name} {p.family_name}", duplicates[p.pk]) for p in patients]
    return review


def open_intake_photo(actor: StaffActor, submission_id, photo_id, *, request=None):
    """(content type, the decrypted bytes) of a consultation's photo, through the door."""
    _check_reviewer(actor)
    with open_intake(actor, submission_id, categories={"health.photos"}, request=request) as chart:
        photo = IntakePhoto.objects.filter(pk=photo_id, submission=chart.submission).first()
        if photo is None:
            from confide.core.errors import NotFound

            raise NotFound("photo")
        with EncryptedStorage().open_decrypted(photo.stored_name, practice_id=photo.practice_id, subject_id=chart.submission.pk,
                                               category="health.photos") as stream:  # fmt: skip
            return photo.content_type, stream.read()


def _erase_submission(submission: IntakeSubmission) -> None:
    """After an acceptance commits: the photos (copied into the chart) and the submission's key go."""
    storage = EncryptedStorage()
    photos = list(submission.photos.all())
    for photo in photos:
        storage.delete(photo.stored_name)
    IntakePhoto.objects.filter(pk__in=[p.pk for p in photos]).delete()
    keys.shred_subject(submission.practice_id, submission.pk)


def do_accept(*, actor: StaffActor, submission_id, merge_into=None, request=None):
    """Make a chart of the consultation (or add it to `merge_into`, an existing patient of the
    practice): identity and contact fill only what the chart lacks, medications are added,
    the answers join `intake_answers`, photos move into the chart. The submission's key is
    then shredded: from now on the data lives in the chart alone."""
    from confide.records import services
    from confide.records.files import do_add_file

    _check_reviewer(actor)
    if merge_into is not None:
        try:
            merge_into = uuid.UUID(str(merge_into))
        except ValueError:
            raise InvalidInput("The chart to add it to is not a patient of this practice; choose one from the list.") from None
    with open_intake(actor, submission_id, request=request) as chart:
        s = chart.submission
        labels = {q["id"]: q["label"] for q in s.form.questions}
        consultation = {
            "submitted_at": s.created_at.isoformat(), "form_version": s.form.version, "guardian_submitted": s.submitted_by_guardian,
            "answers": [{"question": q, "answer": a} for q, a in _in_form_order(s.form, s.answers)],
        }  # fmt: skip
        identity = {
            "given_name": str(s.given_name), "family_name": str(s.family_name), "date_of_birth": s.date_of_birth,
            "email": s.email or None, "phone": s.phone or None, "guardian": s.guardian,
        }  # fmt: skip
        medications = list(s.medications or [])
        authorization_text = s.form.authorization_text
        given = consent.state(consent.Subject.applicant(s.practice_id, s.pk), Topic.CONSULTATION_AUTHORIZATION)
        if not given.granted:  # REC5: nothing without the recorded authorization
            raise InvalidInput("This consultation has no recorded authorization; it cannot be accepted.")
        submitted_at = given.last_at
        # Decrypted into encrypted spools, not memory; they close (and their files go) when this
        # function returns and the list is dropped.
        photo_files = []
        storage = EncryptedStorage()
        for photo in s.photos.all():
            with storage.open_decrypted(photo.stored_name, practice_id=s.practice_id, subject_id=s.pk, category="health.photos") as stream:
                spool = EncryptedSpool()
                shutil.copyfileobj(stream, spool, 64 * 1024)
            photo_files.append((labels.get(photo.question_id, "Photo"), SpooledUpload(spool, name="photo", content_type=photo.content_type)))
    with transaction.atomic():
        submission = IntakeSubmission.objects.select_for_update().get(pk=submission_id)
        if submission.status != IntakeSubmission.Status.RECEIVED:
            raise InvalidInput("This consultation has already been reviewed.")
        if merge_into is not None:
            # Before this transaction's first audit entry (which holds the chain head until it
            # commits): the chart's row, which the openings for update below lock again.
            locks.lock_patient(merge_into)
        if merge_into is None:
            patient = services.do_create_patient(actor=actor, request=request, **{k: v for k, v in identity.items() if v})
        else:
            patient = services.access_patient_by_id(actor, merge_into)
            _merge_identity(actor, patient.pk, identity, request)
        services.do_add_item(actor=actor, patient_id=patient.pk, list_name="intake_answers", item=consultation, request=request)
        # The applicant's authorization becomes the patient's: the same text, its original time.
        consent.do_grant(
            actor=actor, subject=consent.Subject.patient(actor.practice_id, patient.pk), topic=Topic.CONSULTATION_AUTHORIZATION,
            channel="web", method="import", shown_text=authorization_text, occurred_at=submitted_at, scope=f"intake:{submission_id}",
            request=request,
        )  # fmt: skip
        for item in medications:
            services.do_add_item(actor=actor, patient_id=patient.pk, list_name="medications",
                                 item={k: v for k, v in item.items() if k not in ("id", "recorded_at")}, request=request)  # fmt: skip
        for title, upload in photo_files:
            do_add_file(actor=actor, patient_id=patient.pk, kind="photo", title=f"Consultation: {title}"[:200], upload=upload, request=request)
        submission.status = IntakeSubmission.Status.ACCEPTED
        submission.patient = patient
        submission.reviewed_by_id = actor.user_id
        submission.reviewed_at = timezone.now()
        submission.save(update_fields=["status", "patient", "reviewed_by", "reviewed_at", "updated_at"])
        record(AuditEvent.INTAKE_ACCEPTED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
               subject_id=patient.pk, resource_ids=[submission.pk], detail={"merged": merge_into is not None}, request=request)  # fmt: skip
        transaction.on_commit(lambda: _erase_submission(submission))
    return patient


def _merge_identity(actor, patient_id, identity: dict, request) -> None:
    """Fill in what the existing chart lacks; never overwrite (differences are for staff to
    correct with a reason)."""
    from confide.access.door import open_chart
    from confide.records import services

    fields = [k for k, v in identity.items() if v]
    with open_chart(actor, patient_id, Purpose.OPERATIONS, categories=services._categories_for_change(fields), request=request) as chart:
        missing = {k: identity[k] for k in fields if getattr(chart.patient, k) in (None, "")}
    if missing:
        services.do_update_patient(actor=actor, patient_id=patient_id, reason="patient_request", request=request, **missing)


def do_reject(*, actor: StaffActor, submission_id, request=None) -> None:
    """Delete the consultation and shred its key: nothing of it remains readable anywhere."""
    _check_reviewer(actor)
    with open_intake(actor, submission_id, categories={"identifiers.name"}, request=request) as chart:
        submission = IntakeSubmission.objects.select_for_update().get(pk=chart.submission.pk)
        practice_id, pk = submission.practice_id, submission.pk  # delete() clears the instance's pk
        photos = list(submission.photos.values_list("stored_name", flat=True))
        submission.photos.all().delete()
        submission.delete()
        record(AuditEvent.INTAKE_REJECTED, practice_id=practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
               subject_id=pk, request=request)  # fmt: skip

        def erase() -> None:
            storage = EncryptedStorage()
            for name in photos:
                storage.delete(name)
            keys.shred_subject(practice_id, pk)

        transaction.on_commit(erase)

