"""Online consultations (REC2, REC5, MIN1, MIN2): a practice's public form, the review queue, and
turning an accepted consultation into a chart.

    form = current_form(practice_id)                       # the active questions and authorization
    submission = check_submit_consultation(practice=…, data=…, files=…, client_ip=…)
    queue = list_queue(actor)                              # name, age band, reason: one audited list opening
    review = review_submission(actor, submission_id)       # the answers, possible duplicates
    patient = do_accept(actor=…, submission_id=…, merge_into=None | patient id)
    do_reject(actor=…, submission_id=…, message="none" | "fixed" | "typed", text=…)

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
shreds the submission's key; rejecting deletes the submission and shreds its key (and may
e-mail the applicant a fixed or typed message). Every answer goes to its place (a question's
`maps_to` and type): allergies and medicines into their lists, photos into the chart's photos,
and all the answers, as asked and as answered with the form's version, into the chart's
`intake_answers` (its Consultations tab; a QuestionnaireResponse in the FHIR export).
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
from confide.access.door import CONSULT_FORM_JOB, open_intake, open_intake_queue, open_patient_list, write_new_subject
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
# Where an answer goes when a consultation is accepted (a question's `maps_to`): its label on the
# chart, and the question types that can carry it. Medications and photos go by their type.
MAPS_TO: dict[str, tuple[str, tuple[str, ...]]] = {
    "reason": ("Reason for the visit", ("text", "long_text")),
    "history": ("History", ("text", "long_text")),
    "duration": ("How long", ("text", "long_text", "choice")),
    "allergies": ("Allergies", ("text", "long_text")),
    "contact_time": ("Preferred time to call", ("text", "choice")),
}
# Forms saved before questions had `maps_to` (version 1 of every practice): the default form's ids.
_LEGACY_MAPS_TO = {"reason": "reason", "since": "duration", "allergies": "allergies", "contact_time": "contact_time"}
# The medications question: rows of name, dose and kind (the chart's Medication.kind).
MEDICATION_ROWS = 5
MEDICATION_KINDS = {"prescription": "Prescription", "otc": "Over the counter", "unknown": "Not sure"}


def maps_to(question: dict) -> str:
    """Where this question's answer goes in the chart ("" for nowhere but the consultation record)."""
    if question["type"] in ("medications", "photo"):
        return question["type"]
    if "maps_to" not in question:
        return _LEGACY_MAPS_TO.get(question["id"], "") if question["type"] in ("text", "long_text", "choice") else ""
    return question["maps_to"] or ""


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
    # Where the answer goes in the chart when the consultation is accepted (MAPS_TO); none: the
    # answer is kept with the others in the chart's consultation record only.
    maps_to: Literal["reason", "history", "duration", "allergies", "contact_time"] | None = None

    @model_validator(mode="after")
    def _choices(self) -> Question:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice question needs at least two choices")
        if self.type != "choice" and self.choices:
            raise ValueError("only a choice question has choices")
        if self.maps_to and self.type not in MAPS_TO[self.maps_to][1]:
            raise ValueError(f"maps_to {self.maps_to!r} needs a question of type {' or '.join(MAPS_TO[self.maps_to][1])}")
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
        targets = [q.maps_to for q in self.questions if q.maps_to]
        twice = next((t for t in targets if targets.count(t) > 1), None)
        if twice:
            raise ValueError(f"two questions have maps_to {twice!r}; one answer goes to each place in the chart")
        return self


DEFAULT_FORM = {
    "questions": [
        {"id": "reason", "label": "What would you like help with?", "type": "long_text", "required": True, "maps_to": "reason"},
        {"id": "since", "label": "How long has this been going on?", "type": "choice", "required": True,
         "choices": ["Less than a week", "A few weeks", "A few months", "A year or more"], "maps_to": "duration"},
        {"id": "medications", "label": "Medicines you take now", "type": "medications",
         "help": "Prescription or over the counter, with the dose if you know it."},
        {"id": "allergies", "label": "Allergies, if any", "type": "text", "maps_to": "allergies",
         "help": "For example: penicillin, peanuts. Separate several with commas."},
        {"id": "photo", "label": "A photo, if it helps (JPEG or PNG)", "type": "photo",
         "help": "Photos are encrypted; only the clinicians reviewing your consultation see them."},
        {"id": "contact_time", "label": "When may we call you?", "type": "choice", "choices": ["Mornings", "Afternoons", "Evenings", "Any time"],
         "maps_to": "contact_time"},
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
        lines += [f"{k} = {value(v)}" for k, v in q.items() if v not in ("", [], False, None)]
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


class AlreadyReviewed(InvalidInput):
    """Another reviewer accepted or rejected the consultation first."""


ALREADY_REVIEWED = "This consultation has already been reviewed."


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


class FormInvalid(InvalidInput):
    """Every problem of a submitted form at once (not the first one only): `errors` is
    (field name, message) pairs in the form's order; `str()` is the messages one after another."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__(" ".join(message for _, message in self.errors))

    @property
    def by_field(self) -> dict[str, str]:
        """The first message for each field."""
        out: dict[str, str] = {}
        for name, message in self.errors:
            out.setdefault(name, message)
        return out


class _Problems:
    """Collects each field's refusal (InvalidInput) so the visitor sees them all at once."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def check(self, name: str, check, *args, **kwargs):
        """check(*args) or, if it refuses, None with its message kept for `name`."""
        try:
            return check(*args, **kwargs)
        except FormInvalid as exc:
            self.errors += exc.errors
        except InvalidInput as exc:
            self.errors.append((name, str(exc)))
        return None

    def add(self, name: str, message: str) -> None:
        self.errors.append((name, message))

    def raise_any(self) -> None:
        if self.errors:
            raise FormInvalid(self.errors)


def _text(data, name: str, label: str, *, required: bool, limit: int = 300) -> str:
    value = _no_control_characters(label, (data.get(name) or "").strip())
    if required and not value:
        raise InvalidInput(f"{label}: please fill this in.")
    if len(value) > limit:
        raise InvalidInput(f"{label}: at most {limit} characters.")
    return value


def _born(data) -> datetime.date:
    try:
        born = datetime.date.fromisoformat((data.get("date_of_birth") or "").strip())
    except ValueError:
        raise InvalidInput("Date of birth: give it as YYYY-MM-DD.") from None
    if born > timezone.now().date() or born.year < 1900:
        raise InvalidInput("Date of birth: that date is not possible.")
    return born


def _email(data) -> str:
    email = _text(data, "email", "Email", required=False, limit=254)
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise InvalidInput("Email: that is not an email address.") from None
    return email


def _phone(data) -> str:
    phone = _text(data, "phone", "Phone", required=False, limit=40)
    if phone:
        try:
            parsed = phonenumbers.parse(phone, "US")
            phone_number(phone)  # what the chart accepts, or accepting the consultation would fail later
        except (phonenumbers.NumberParseException, DjangoValidationError):
            parsed = None
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            raise InvalidInput("Phone: that is not a phone number (digits, spaces, + ( ) - . only).")
    return phone


def _contact(data, problems: _Problems) -> Contact | None:
    given = problems.check("given_name", _text, data, "given_name", "First name", required=True)
    family = problems.check("family_name", _text, data, "family_name", "Last name", required=True)
    born = problems.check("date_of_birth", _born, data)
    email = problems.check("email", _email, data)
    phone = problems.check("phone", _phone, data)
    if email == "" and phone == "":
        problems.add("email", "Give an email address or a phone number so the practice can answer you.")
    if None in (given, family, born, email, phone) or not (email or phone):
        return None
    return Contact(given, family, born, email, phone)


def _age_rule(practice_id, born: datetime.date, data) -> tuple[dict | None, bool]:
    """(guardian details or None, submitted by a guardian). Refuses, keeping nothing, where the
    practice's age rule says no."""
    from confide.policy.services import declaration_in_force

    rule = declaration_in_force(practice_id).age
    age = age_on(born, timezone.now().date())
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


PHOTO_FORMATS = "JPEG or PNG (.jpg, .jpeg or .png)"


def _photo_upload(question: dict, upload):
    """The upload if its declared type is a photo's (decoded later, once all else passed)."""
    if upload is None:
        if question.get("required"):
            raise InvalidInput(f"{question['label']}: please add a photo.")
        return None
    declared = (getattr(upload, "content_type", "") or "").split(";", 1)[0].strip().lower()
    if declared not in (JPEG, PNG):
        raise InvalidInput(f"{question['label']}: a photo is a JPEG or PNG image; this file is not one. Photos are accepted as {PHOTO_FORMATS}.")
    return upload


def _answer(question: dict, data) -> str:
    label, key = question["label"], f"q_{question['id']}"
    raw = _no_control_characters(label, (data.get(key) or "").strip(), multiline=question["type"] == "long_text")
    if not raw:
        if question.get("required"):
            raise InvalidInput(f"{label}: please answer this.")
        return ""
    limit = 5000 if question["type"] == "long_text" else 500
    if len(raw) > limit:
        raise InvalidInput(f"{label}: at most {limit} characters.")
    if question["type"] == "choice" and raw not in question["choices"]:
        raise InvalidInput(f"{label}: choose one of the options.")
    if question["type"] == "date":
        try:
            datetime.date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"{label}: give the date as YYYY-MM-DD.") from None
    return raw


def medication_field(question_id: str, row: int, part: str) -> str:
    """The name of one input of the medications question: q_<id>-<row>-name|dose|kind."""
    return f"q_{question_id}-{row}-{part}"


def _medication(label: str, name: str, dose: str, kind: str) -> dict:
    try:
        return clinical.Medication(
            name=name[:300], dose=dose[:120], kind=kind, status="active", note="from an online consultation", reported_by_patient=True,
        ).model_dump(mode="json")  # fmt: skip
    except ValidationError as exc:  # a value the chart's medication rules refuse (a tab, a bidi control …)
        raise InvalidInput(f"{label}: {clinical.problems(exc)[0][1]}") from None


def _medication_line(item: dict) -> str:
    """A medication as the visitor gave it, as one line of the consultation's answer."""
    dose = f", {item['dose']}" if item["dose"] else ""
    return f"{item['name']}{dose} ({MEDICATION_KINDS[item['kind']].lower()})"


_KIND_WORDS = {"otc": "otc", "over the counter": "otc", "prescription": "prescription", "rx": "prescription"}


def _medications(question: dict, data) -> tuple[str, list] | None:
    """(the answer as text, the Medication items): one row per medicine (name, dose, kind) and,
    from forms posted before rows existed, lines of "name, dose[, otc|prescription]" whose kind
    is "unknown" unless the line says."""
    label, qid = question["label"], question["id"]
    problems, items, lines = _Problems(), [], []
    for row in range(MEDICATION_ROWS):
        where = f"{label} (medicine {row + 1})"

        def one(part: str, limit: int, where=where, row=row) -> str:
            value = _no_control_characters(where, (data.get(medication_field(qid, row, part)) or "").strip())
            if len(value) > limit:
                raise InvalidInput(f"{where}: the {part} is at most {limit} characters.")
            return value

        name = problems.check(medication_field(qid, row, "name"), one, "name", 300)
        dose = problems.check(medication_field(qid, row, "dose"), one, "dose", 120)
        kind = (data.get(medication_field(qid, row, "kind")) or "").strip() or "unknown"
        if kind not in MEDICATION_KINDS:
            problems.add(medication_field(qid, row, "kind"), f"{where}: choose prescription, over the counter or not sure.")
            continue
        if name is None or dose is None:
            continue
        if dose and not name:
            problems.add(medication_field(qid, row, "name"), f"{where}: give the medicine's name as well as its dose.")
            continue
        if name:
            item = problems.check(medication_field(qid, row, "name"), _medication, where, name, dose, kind)
            if item:
                items.append(item)
                lines.append(_medication_line(item))
    raw = problems.check(f"q_{qid}", _no_control_characters, label, (data.get(f"q_{qid}") or "").strip(), multiline=True)
    if raw:
        if len(raw) > 5000:
            problems.add(f"q_{qid}", f"{label}: at most 5000 characters.")
        else:
            for line in raw.splitlines():
                parts = [p.strip() for p in line.split(",")]
                if not parts[0]:
                    continue
                kind = _KIND_WORDS.get(parts[-1].lower(), "") if len(parts) > 2 else ""
                name, dose = parts[0], ", ".join(parts[1:-1] if kind else parts[1:])
                item = problems.check(f"q_{qid}", _medication, label, name, dose, kind or "unknown")
                if item:
                    items.append(item)
            lines.insert(0, raw)
    problems.raise_any()
    if not items and question.get("required"):
        raise InvalidInput(f"{label}: please name at least one medicine.")
    return ("\n".join(lines), items) if items else None


def _answers(form: IntakeForm, data, files, problems: _Problems) -> tuple[dict, list, list]:
    answers, medications, photos = {}, [], []
    for q in form.questions:
        key = f"q_{q['id']}"
        if q["type"] == "photo":
            upload = problems.check(key, _photo_upload, q, files.get(key))
            if upload is not None:
                photos.append((q, upload))  # checked and decoded by _validated_photos, once all else passed
        elif q["type"] == "medications":
            given = problems.check(key, _medications, q, data)
            if given:
                answers[q["id"]], items = given
                medications += items
        else:
            raw = problems.check(key, _answer, q, data)
            if raw:
                answers[q["id"]] = raw
    return answers, medications, photos


def _validated_photos(pending: list) -> list:
    """(question id, CleanUpload) for each photo: size, then the pixel count its header declares,
    and only then a decode and re-encode (vault/files.py::validate_upload)."""
    photos = []
    try:
        for question, upload in pending:
            try:
                clean = validate_upload(upload, declared_content_type=getattr(upload, "content_type", ""), accepted=(JPEG, PNG))
            except FileRejected as exc:
                raise FormInvalid([(f"q_{question['id']}", f"{question['label']}: {exc}")]) from None
            photos.append((question["id"], clean))
    except BaseException:
        _close(photos)
        raise
    return photos


def _close(photos: list) -> None:
    for _, clean in photos:
        clean.file.close()


AUTHORIZE = "Please read the authorization and tick the box to agree: without it the practice cannot keep your answers."


def check_submit_consultation(*, practice, data, files, client_ip: str, request=None) -> IntakeSubmission:
    """Validate everything, cheapest first, then store the consultation (see the module
    docstring). Nothing is decoded before the attempt is counted, the token and every typed
    answer check out and the authorization is given. The typed answers' problems are reported
    all at once (FormInvalid); photos are looked at only when there is none."""
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
    problems = _Problems()
    contact = _contact(data, problems)
    guardian, by_guardian = None, False
    if contact is not None or not any(name == "date_of_birth" for name, _ in problems.errors):
        born = contact.date_of_birth if contact else problems.check("date_of_birth", _born, data)
        if born is not None:
            guardian, by_guardian = problems.check("guardian", _age_rule, practice.id, born, data) or (None, False)
    answers, medications, pending_photos = _answers(form, data, files, problems)
    if data.get("authorize") not in ("on", "yes", "true", "1"):
        problems.add("authorize", AUTHORIZE)
    problems.raise_any()
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
    name: str = ""
    age_band: str = ""
    reason: str = ""


# Ages shown as a band: enough to triage (a child, a teenager, an older adult), not the date of birth.
AGE_BANDS = ((0, "under 13"), (13, "13–17"), (18, "18–29"), (30, "30–44"), (45, "45–64"), (65, "65–79"), (80, "80 or over"))
REASON_PREVIEW = 140


def age_band(born: datetime.date | None, today: datetime.date | None = None) -> str:
    if not isinstance(born, datetime.date):
        return ""
    age = age_on(born, today or timezone.now().date())
    return [label for start, label in AGE_BANDS if age >= start][-1]


def _reason_preview(submission) -> str:
    """The answer that says why (the question mapped to "reason"), on one line, shortened."""
    answers = submission.answers or {}
    question = next((q for q in submission.form.questions if maps_to(q) == "reason"), None)
    text = " ".join(str(answers.get(question["id"], "")).split()) if question else ""
    return text if len(text) <= REASON_PREVIEW else text[: REASON_PREVIEW - 1].rstrip() + "…"


def list_queue(actor: StaffActor, *, request=None) -> list[QueueRow]:
    """Consultations waiting for review, oldest first: the applicant's name, age band and reason,
    opened as ONE audited list (door.open_intake_queue). Clinicians and owners see it; the front
    desk where the practice's declaration switches on `front_desk_consultation_queue`."""
    with open_intake_queue(actor, request=request) as queue:
        counts: dict = {}
        for submission_id in IntakePhoto.objects.filter(submission__in=[s.pk for s in queue.submissions]).values_list("submission_id", flat=True):
            counts[submission_id] = counts.get(submission_id, 0) + 1
        return [
            QueueRow(s.pk, s.created_at, s.form.version, counts.get(s.pk, 0), s.submitted_by_guardian,
                     name=f"{s.given_name} {s.family_name}", age_band=age_band(s.date_of_birth), reason=_reason_preview(s))
            for s in queue.submissions
        ]  # fmt: skip


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


_NO_ALLERGIES = {"none", "no", "nil", "n/a", "na", "nka", "nkda", "no known allergies", "no allergies", "none known", "not that i know", "-"}


def allergy_items(answer: str) -> list[dict]:
    """Allergy items from a typed answer: one per substance (separated by commas, semicolons or
    line breaks); "none", "NKDA" and the like add none. What the visitor typed stays in the
    consultation record as well, word for word."""
    if answer.strip().strip(".").lower() in _NO_ALLERGIES:
        return []
    items = []
    for part in answer.replace(";", ",").replace("\n", ",").split(","):
        substance = part.strip().strip(".")
        if substance and substance.lower() not in _NO_ALLERGIES:
            items.append(clinical.Allergy(substance=substance[:300], status="active").model_dump(mode="json", exclude={"id", "recorded_at"}))
    return items


def _consultation_answers(submission) -> list[dict]:
    """The answers in the form's order, each with its question id and where it goes (maps_to);
    a photo question answered with a photo says so (the photo goes to the chart's photos)."""
    answers = dict(submission.answers or {})
    with_photo = set(submission.photos.values_list("question_id", flat=True))
    rows = []
    for q in submission.form.questions:
        if q["id"] in answers:
            rows.append({"question": q["label"], "answer": answers.pop(q["id"]), "question_id": q["id"], "maps_to": maps_to(q)})
        elif q["type"] == "photo" and q["id"] in with_photo:
            rows.append({"question": q["label"], "answer": "A photo (in the chart's photos).", "question_id": q["id"], "maps_to": "photo"})
    return rows + [{"question": k, "answer": v, "question_id": k[:120]} for k, v in sorted(answers.items())]


def _not_on_chart(actor, patient_id, allergies: list, medications: list, request) -> tuple[list, list]:
    """Of the consultation's allergies and medications, those the chart does not list yet (same
    substance or name, active): merging a returning patient's consultation adds no duplicates."""
    from confide.access.door import open_chart

    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={"health.allergies", "health.medications"}, request=request) as chart:
        known_allergies = {str(a.get("substance", "")).casefold() for a in chart.patient.allergies or [] if a.get("status") == "active"}
        known_medications = {str(m.get("name", "")).casefold() for m in chart.patient.medications or [] if m.get("status") == "active"}
    return ([a for a in allergies if a["substance"].casefold() not in known_allergies],
            [m for m in medications if m["name"].casefold() not in known_medications])  # fmt: skip


def do_accept(*, actor: StaffActor, submission_id, merge_into=None, request=None):
    """Make a chart of the consultation (or add it to `merge_into`, an existing patient of the
    practice), every answer in its place: identity and contact fill only what the chart lacks;
    the allergies answer becomes allergy items and the medicines medication items (with their
    dose and kind, reported by the patient), leaving out what the chart already lists as active;
    the photos move into the chart's photos; and the answers as asked and given — reason,
    duration, preferred call time and the rest, with the form's version — become a consultation
    record in `intake_answers` (the chart's Consultations tab), which also counts what was added.
    The submission's key is then shredded: from now on the data lives in the chart alone."""
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
        answers = _consultation_answers(s)
        consultation = {
            "submitted_at": s.created_at.isoformat(), "form_version": s.form.version, "guardian_submitted": s.submitted_by_guardian,
            "answers": answers,
        }  # fmt: skip
        allergies = [item for a in answers if a.get("maps_to") == "allergies" for item in allergy_items(a["answer"])]
        identity = {
            "given_name": str(s.given_name), "family_name": str(s.family_name), "date_of_birth": s.date_of_birth,
            "email": s.email or None, "phone": s.phone or None, "guardian": s.guardian,
        }  # fmt: skip
        medications = [{k: v for k, v in item.items() if k not in ("id", "recorded_at")} for item in s.medications or []]
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
        submission = IntakeSubmission.objects.select_for_update().filter(pk=submission_id).first()
        if submission is None or submission.status != IntakeSubmission.Status.RECEIVED:  # rejected (deleted) or accepted meanwhile
            raise AlreadyReviewed(ALREADY_REVIEWED)
        if merge_into is not None:
            # Before this transaction's first audit entry (which holds the chain head until it
            # commits): the chart's row, which the openings for update below lock again.
            locks.lock_patient(merge_into)
        if merge_into is None:
            patient = services.do_create_patient(actor=actor, request=request, **{k: v for k, v in identity.items() if v})
        else:
            patient = services.access_patient_by_id(actor, merge_into)
            _merge_identity(actor, patient.pk, identity, request)
            if allergies or medications:
                allergies, medications = _not_on_chart(actor, patient.pk, allergies, medications, request)
        consultation["added"] = {"allergies": len(allergies), "medications": len(medications), "photos": len(photo_files)}
        services.do_add_item(actor=actor, patient_id=patient.pk, list_name="intake_answers", item=consultation, request=request)
        # The applicant's authorization becomes the patient's: the same text, its original time.
        consent.do_grant(
            actor=actor, subject=consent.Subject.patient(actor.practice_id, patient.pk), topic=Topic.CONSULTATION_AUTHORIZATION,
            channel="web", method="import", shown_text=authorization_text, occurred_at=submitted_at, scope=f"intake:{submission_id}",
            request=request,
        )  # fmt: skip
        for item in allergies:
            services.do_add_item(actor=actor, patient_id=patient.pk, list_name="allergies", item=item, request=request)
        for item in medications:
            services.do_add_item(actor=actor, patient_id=patient.pk, list_name="medications", item=item, request=request)
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


# Rejecting may tell the applicant, by e-mail: a fixed text that says nothing about their health
# (safe to send to any inbox), or one the reviewer types (checked like all text, never logged).
REJECT_MESSAGES = {"none": "No message", "fixed": "The standard message", "typed": "A message I write"}
REJECTION_SUBJECT = "Your online consultation with {practice}"
REJECTION_FIXED = (
    "Thank you for your online consultation request. We are sorry, but we are not able to help with it through an "
    "online consultation, and what you sent has been deleted.\n\n"
    "If you have questions, please contact the practice directly. In an emergency, call 911."
)
REJECTION_TYPED_MAX = 2000


def rejection_body(message: str, text: str = "") -> str | None:
    """The e-mail to send with a rejection (None for no message), or InvalidInput."""
    if message not in REJECT_MESSAGES:
        raise InvalidInput("Choose whether to send the applicant a message: none, the standard one, or one you write.")
    if message == "none":
        return None
    if message == "fixed":
        return REJECTION_FIXED
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput("The message: write it, or choose the standard message or none.")
    if len(text) > REJECTION_TYPED_MAX:
        raise InvalidInput(f"The message: at most {REJECTION_TYPED_MAX} characters.")
    problem = line_problem(text, multiline=True)
    if problem:
        raise InvalidInput(f"The message: {lower_first(problem[1])}")
    return text


def do_reject(*, actor: StaffActor, submission_id, message: str = "none", text: str = "", request=None) -> None:
    """Delete the consultation and shred its key: nothing of it remains readable anywhere.
    `message`: "none", "fixed" (REJECTION_FIXED) or "typed" (`text`, checked by the rules for
    all text); a message goes by e-mail (Django's e-mail backend, once the rejection commits)
    to the address the applicant gave, if the egress gate lets e-mail carry it. Nothing is
    rejected when the message cannot be sent. The audit entry says which kind of message, never
    its text or the address."""
    from django.core.mail import send_mail

    from confide.core.models import Practice
    from confide.policy.egress import EgressRefused, check_egress

    _check_reviewer(actor)
    body = rejection_body(message, text)
    email = ""
    if body is not None:
        with open_intake(actor, submission_id, categories={"identifiers.name", "contact.email"}, request=request) as chart:
            email, subject_id = chart.submission.email or "", chart.submission.pk
        if not email:
            raise InvalidInput("This applicant gave no email address, so no message can be sent. Choose “No message” (and call them if they gave a phone number).")
        try:
            check_egress(practice_id=actor.practice_id, processor_id="email", purpose=Purpose.TREATMENT, categories={"contact.email"},
                         actor=actor, subject_ids=[subject_id], request=request)  # fmt: skip
        except EgressRefused as refused:
            raise InvalidInput(f"The message cannot be sent by e-mail: {refused.message} The consultation was not rejected.") from None
        subject = REJECTION_SUBJECT.format(practice=Practice.objects.get(pk=actor.practice_id).name)
    with open_intake(actor, submission_id, categories={"identifiers.name"}, request=request) as chart:
        # Two reviewers at once: the second waits for the first's lock, then finds nothing to
        # reject (and sends nothing).
        submission = IntakeSubmission.objects.select_for_update().filter(pk=chart.submission.pk, status=IntakeSubmission.Status.RECEIVED).first()
        if submission is None:
            raise AlreadyReviewed(ALREADY_REVIEWED)
        practice_id, pk = submission.practice_id, submission.pk  # delete() clears the instance's pk
        photos = list(submission.photos.values_list("stored_name", flat=True))
        submission.photos.all().delete()
        submission.delete()
        record(AuditEvent.INTAKE_REJECTED, practice_id=practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
               subject_id=pk, detail={"message": message}, request=request)  # fmt: skip

        def erase() -> None:
            storage = EncryptedStorage()
            for name in photos:
                storage.delete(name)
            keys.shred_subject(practice_id, pk)

        transaction.on_commit(erase)
        if body is not None:
            transaction.on_commit(lambda: send_mail(subject, body, None, [email]), robust=True)
