"""The chart: patients, their clinical lists, notes, psychotherapy notes kept apart, files, and
online consultations (REC1–REC5).

Every field that holds something about a person is encrypted under that person's data key and
declares its category from the privacy declaration (confide/policy/default.toml); the chart door
(confide/access/door.py) grants categories, never tables. Reading any of it outside an open door
raises. `str()` of any of these is an id, never a name: it ends up in logs and reprs.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line
from confide.records.values import administrative_sex, email_address, phone_number
from confide.vault.fields import EncryptedDateField, EncryptedJSONField, EncryptedTextField


def _line(limit: int, *more) -> list:
    """One line of at most `limit` characters, and any further check."""
    return [single_line, MaxLengthValidator(limit), *more]


class Patient(TenantModel):
    """A data subject. Every identifying or health field is encrypted under the patient's key.

    Each text field's validators are its one rule, whoever writes it: `services.clean_fields`
    runs them for every service and the FHIR import, and the chart's forms are built from them."""

    # identity
    given_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    family_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    preferred_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    date_of_birth = EncryptedDateField(category="identifiers.dob")
    sex = EncryptedTextField(category="identifiers.demographics", validators=_line(16, administrative_sex))  # female, male, other, unknown
    gender_identity = EncryptedTextField(category="identifiers.demographics", validators=_line(120))
    pronouns = EncryptedTextField(category="identifiers.demographics", validators=_line(60))
    language = EncryptedTextField(category="identifiers.demographics", validators=_line(60))
    medical_record_number = EncryptedTextField(category="identifiers.medical_record_number", validators=_line(60))
    drivers_licence = EncryptedTextField(category="identifiers.government", validators=_line(60))
    # contact
    email = EncryptedTextField(category="contact.email", validators=_line(254, email_address))
    phone = EncryptedTextField(category="contact.phone", validators=_line(40, phone_number))
    phone_other = EncryptedTextField(category="contact.phone", validators=_line(40, phone_number))
    address = EncryptedJSONField(category="contact.address")  # clinical.Address
    emergency_contact = EncryptedJSONField(category="contact.emergency")  # clinical.Person
    guardian = EncryptedJSONField(category="contact.guardian")  # clinical.Person, for a minor
    # billing
    insurance = EncryptedJSONField(category="financial.insurance")  # clinical.Insurance
    # health: free text and the clinical lists (clinical.LISTS gives each item's shape)
    health_background = EncryptedTextField(category="health.background", validators=[multi_line, MaxLengthValidator(20_000)])
    medications = EncryptedJSONField(category="health.medications")
    allergies = EncryptedJSONField(category="health.allergies")
    conditions = EncryptedJSONField(category="health.conditions")
    lab_results = EncryptedJSONField(category="health.lab_results")
    immunizations = EncryptedJSONField(category="health.immunizations")
    encounters = EncryptedJSONField(category="health.encounters")
    procedures = EncryptedJSONField(category="health.encounters")
    # Online consultations accepted into this chart: [{submitted_at, form_version, answers: [{question, answer}]}]
    intake_answers = EncryptedJSONField(category="health.intake")

    is_active = models.BooleanField(default=True)
    # A keyed hash of where the record came from (a FHIR import's source system and Patient id):
    # re-importing the same bundle finds this patient instead of making a second one.
    source_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created_at"]
        # Every lookup here is tenant-scoped (`practice_id = ?` is added by the manager, and by
        # row-level security on PostgreSQL), so each index leads with practice_id: a query planner
        # without statistics (SQLite before its first ANALYZE) then prefers the index matching
        # more equality terms instead of scanning the whole practice through the practice FK's
        # index. The list's indexes end with the order it pages in (docs/operations.md).
        indexes = [
            models.Index(fields=["practice", "source_key"], name="patient_source_key"),
            models.Index(fields=["practice", "is_active", "created_at", "id"], name="patient_list_created"),
            models.Index(fields=["practice", "is_active", "updated_at", "id"], name="patient_list_recent"),
        ]
        constraints = [
            # Two imports of the same bundle at once must not make two patients: the second
            # insert fails and its whole bundle rolls back (records/fhir.py reports it).
            models.UniqueConstraint(
                fields=["practice", "source_key"], condition=~models.Q(source_key=""), name="patient_source_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"patient:{self.pk}"


class NoteStatus(models.TextChoices):
    DRAFT = "draft"
    SIGNED = "signed"


class _SignedText(TenantModel):
    """What a note, a psychotherapy note and an addendum share: an author, a lock, a hash.

    Signing locks the row: its content can never change in place again (REC3); later changes
    are addenda. `content_hash` is SHA-256 over a per-row random salt and the canonical content,
    recorded in the signing audit entry, so a later check proves the text is what was signed;
    the salt (kept only here) stops anyone holding the audit log from guessing short texts."""

    Status = NoteStatus  # for code that knows the model by name only (the chart door)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    signed_at = models.DateTimeField(null=True, blank=True)
    content_salt = models.CharField(max_length=32, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True
        ordering = ["created_at"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == NoteStatus.SIGNED:
                raise RuntimeError("a signed note is never changed in place: add an addendum")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("notes are part of the record: they are never deleted")


class NoteTemplate(models.TextChoices):
    SOAP = "soap", "SOAP (subjective, objective, assessment, plan)"
    FREE = "free", "Free text"


class ProgressNote(_SignedText):
    """A clinical note (health.notes): SOAP sections or free text, in `content` as JSON."""

    template = models.CharField(max_length=8, choices=NoteTemplate.choices, default=NoteTemplate.SOAP)
    content = EncryptedJSONField(category="health.notes", subject_field="patient_id")

    class Meta(_SignedText.Meta):
        # The notes tab pages a patient's notes newest first (chart.get_notes).
        indexes = [models.Index(fields=["practice", "patient", "created_at", "id"], name="progress_note_by_patient")]

    def __str__(self) -> str:
        return f"note:{self.pk}"


class Addendum(_SignedText):
    """A signed change to a signed progress note: linked to it, signed when written."""

    note = models.ForeignKey(ProgressNote, on_delete=models.PROTECT, related_name="addenda")
    content = EncryptedTextField(category="health.notes", subject_field="patient_id", validators=[multi_line])

    def __str__(self) -> str:
        return f"addendum:{self.pk}"


class PsychotherapyNote(_SignedText):
    """HIPAA's psychotherapy notes, kept apart: a table of their own, a category no role is
    granted, readable only by the author through the door's per-note rule, never in the portal
    or an access export unless the patient specifically authorizes it."""

    content = EncryptedTextField(category="health.psychotherapy_notes", subject_field="patient_id", validators=[multi_line])

    def __str__(self) -> str:
        return f"psychotherapy-note:{self.pk}"


class PsychotherapyAddendum(_SignedText):
    note = models.ForeignKey(PsychotherapyNote, on_delete=models.PROTECT, related_name="addenda")
    content = EncryptedTextField(category="health.psychotherapy_notes", subject_field="patient_id", validators=[multi_line])

    def __str__(self) -> str:
        return f"psychotherapy-addendum:{self.pk}"


class _StoredFile(TenantModel):
    """A file's bytes live in encrypted storage (confide/vault/files.py) under the patient's key;
    the row holds the storage name (ids and a kind, never a filename), its type and size, and
    the title, encrypted. Documents and photos are separate tables with separate categories, so
    billing (never photos) and front desk (never documents) are refused by the door before any
    byte is read."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    stored_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class Document(_StoredFile):
    CATEGORY = "health.documents"
    title = EncryptedTextField(category="health.documents", subject_field="patient_id", validators=_line(200))

    def __str__(self) -> str:
        return f"document:{self.pk}"


class Photo(_StoredFile):
    CATEGORY = "health.photos"
    title = EncryptedTextField(category="health.photos", subject_field="patient_id", validators=_line(200))

    def __str__(self) -> str:
        return f"photo:{self.pk}"


class RepresentativeDocument(_StoredFile):
    """The authorization kept with a parent's or guardian's portal link (HIPAA §164.502(g); MIN3):
    a guardianship order, a birth certificate. Encrypted under the CHILD's key like any file of
    the chart (it is the record of who may act for them), in the category of whom to call for
    the patient (`contact.guardian`), so the front desk that registers the guardian may attach
    it; listed on the chart's documents tab. Added by records/representatives.py only."""

    CATEGORY = "contact.guardian"
    portal_link = models.ForeignKey("accounts.PortalLink", on_delete=models.PROTECT, related_name="+")
    title = EncryptedTextField(category="contact.guardian", subject_field="patient_id", validators=_line(200))

    def __str__(self) -> str:
        return f"representative-document:{self.pk}"


class IntakeForm(TenantModel):
    """A practice's online consultation form: its questions and the authorization text a visitor
    agrees to. Configuration, not patient data (plain text); each change is a new version, so
    every submission says which questions and which authorization its person saw."""

    version = models.PositiveIntegerField()
    questions = models.JSONField()  # intake.Question items, validated by confide/records/intake.py
    authorization_text = models.TextField(validators=[multi_line])
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["practice", "version"], name="intake_form_unique_version")]

    def __str__(self) -> str:
        return f"intake-form:{self.pk}:v{self.version}"


class IntakeSubmission(TenantModel):
    """An online consultation waiting for review (REC2). Until staff accept it the person is not
    a patient, so the submission is a data subject of its own: everything it holds is sealed
    under the submission's own key (`subject_field="id"`). Accepting copies it into a chart under
    the patient's key and shreds the submission's key; rejecting deletes it and shreds the key.
    Either way nothing of the person stays readable outside the chart."""

    DATA_SUBJECT_ROOT = True  # confide/policy/reachability.py: a subject of its own, not yet a patient

    class Status(models.TextChoices):
        RECEIVED = "received"
        ACCEPTED = "accepted"

    form = models.ForeignKey(IntakeForm, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    authorization_hash = models.CharField(max_length=64)  # SHA-256 of the exact authorization text shown
    submitted_by_guardian = models.BooleanField(default=False)
    # What the public form accepts (records/intake.py checks each with these rules).
    given_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    family_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    date_of_birth = EncryptedDateField(category="identifiers.dob")
    email = EncryptedTextField(category="contact.email", validators=_line(254, email_address))
    phone = EncryptedTextField(category="contact.phone", validators=_line(40, phone_number))
    guardian = EncryptedJSONField(category="contact.guardian")  # clinical.Person + {"authorized": true}
    answers = EncryptedJSONField(category="health.intake")  # {question id: answer}
    medications = EncryptedJSONField(category="health.medications")  # from a medication-list question

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"intake:{self.pk}"


class IntakePhoto(TenantModel):
    """A photo sent with a consultation: bytes in encrypted storage under the submission's key."""

    DATA_SUBJECT_ROOT = True

    submission = models.ForeignKey(IntakeSubmission, on_delete=models.CASCADE, related_name="photos")
    question_id = models.CharField(max_length=40)
    stored_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"intake-photo:{self.pk}"


class IntakeAttempts(TenantModel):
    """How many consultations one client tried to send in one clock hour: the counter behind
    CONFIDE_CONSULT_PER_HOUR. Every attempt counts, refused ones too, and is counted before
    any expensive work, by a conditional UPDATE (`count < limit`) that PostgreSQL row locks and
    SQLite's writer lock make atomic across threads, workers and machines. The client is a keyed
    hash of its address, never the address. Rows of past hours are deleted as new ones start."""

    client_key = models.CharField(max_length=64)  # HMAC-SHA256(secret key, practice id | address)
    window_start = models.DateTimeField()  # the hour counted, on the hour
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "client_key", "window_start"], name="intake_attempts_one_row_per_hour")]
        indexes = [models.Index(fields=["practice", "window_start"], name="intake_attempts_by_hour")]

    def __str__(self) -> str:
        return f"intake-attempts:{self.pk}"


class UsedIntakeToken(TenantModel):
    """A consultation form's one-time token that has made a consultation. Inserted in the
    consultation's own transaction, so the unique constraint lets exactly one of any number of
    simultaneous submissions of one form commit; the others are told it was received already.
    A token is only valid for a day (intake.TOKEN_MAX_AGE), so rows older than that are deleted."""

    nonce = models.UUIDField()  # the random part of the signed token

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "nonce"], name="intake_token_used_once")]
        indexes = [models.Index(fields=["practice", "created_at"], name="intake_token_by_age")]

    def __str__(self) -> str:
        return f"intake-token:{self.pk}"


class PatientMerge(TenantModel):
    """Two charts of one person made one (records/merge.py): everything of the duplicate moved
    into the survivor, the duplicate taken out of the active register. `moved` lists what moved,
    by ids only (list item ids, row ids, stored file names of the copies), so that undoing the
    merge within MERGE_UNDO_DAYS moves back exactly what came from the duplicate. Final (asked
    for, or the only way once the window closed): the duplicate's key is shredded."""

    class State(models.TextChoices):
        REVERSIBLE = "reversible"
        UNDONE = "undone"
        FINAL = "final"

    survivor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    duplicate = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.REVERSIBLE)
    reversible_until = models.DateTimeField()
    moved = models.JSONField(default=dict)  # ids only: {"lists": {name: [item id]}, "rows": {label: [pk]}, "files": {label: {pk: name}}}
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A duplicate is merged away once at a time: a second merge of it waits for an undo.
            models.UniqueConstraint(fields=["duplicate"], condition=models.Q(state="reversible"), name="patient_merge_one_open_per_duplicate"),
        ]

    def __str__(self) -> str:
        return f"patient-merge:{self.pk}"
