"""Rights requests (RTS1–RTS10, DSC1, ACC7): who asked, about which record, what kind, by which
channel, how the requester was verified, by when it must be answered, and what was decided.

A request may arrive before anyone knows whose record it is about (the public form: a visitor
gives a name and a date of birth, verified later by a code to the contact on file), so `patient`
is empty until verification matches a record. A request from the portal knows its patient at
once (the signed-in session verifies the requester: ACC7).

What a requester types may say anything about their health: it is sealed under the patient's key
(category `communications.messages`), written only through the chart door (services.py). The
identifiers a visitor gives to be verified live in `rights.Verification` (their own key), used
only to verify and deleted after (ACC7). Letters (`Letter`) keep what was sent, sealed."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line
from confide.vault.fields import EncryptedDateField, EncryptedTextField

DETAIL_MAX = 2000


class RequestKind(models.TextChoices):
    # Labels are how the patient and the privacy officer read them (plain words). The stored
    # values of the first six predate the rights issue and are kept.
    SEE = "see", "See my information"  # HIPAA access, CCPA right to know (RTS1)
    COPY = "copy", "Get a copy of my information"  # portable copy (RTS2)
    CORRECT = "correct", "Correct something"  # HIPAA amendment, CCPA correction (RTS3)
    DELETE = "delete", "Delete my information"  # RTS4
    RESTRICT = "restrict", "Limit or stop a use of my information"  # HIPAA's request for restrictions
    OTHER = "other", "Something else"
    OPT_OUT_SALE = "opt_out_sale", "Do not sell or share my information"  # RTS5 (no verification)
    LIMIT_SENSITIVE = "limit_sensitive", "Limit the use of my sensitive information"  # RTS5 (no verification)
    OPT_OUT_PROFILING = "opt_out_profiling", "Opt out of profiling"  # RTS5
    ACCOUNTING = "accounting", "A list of disclosures of my information"  # DSC1, HIPAA §164.528
    SHINE_THE_LIGHT = "shine_the_light", "Who my information was shared with for marketing"  # RTS8
    APPEAL = "appeal", "Appeal a decision on an earlier request"  # RTS7


# Requests that need no verification of who is asking (CCPA §7026/§7027: an opt-out must not
# demand it); they take effect for whoever the requester turns out to be.
UNVERIFIED_KINDS = frozenset({RequestKind.OPT_OUT_SALE, RequestKind.LIMIT_SENSITIVE, RequestKind.OPT_OUT_PROFILING})


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    VERIFYING = "verifying", "Checking who is asking"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    PARTLY_DONE = "partly_done", "Partly done"
    DECLINED = "declined", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.VERIFYING, RequestStatus.IN_PROGRESS)
CLOSED_STATUSES = (RequestStatus.DONE, RequestStatus.PARTLY_DONE, RequestStatus.DECLINED, RequestStatus.WITHDRAWN)


class Channel(models.TextChoices):
    PORTAL = "portal", "Patient portal"
    WEB_FORM = "web_form", "Website form"
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "In person"
    OPERATOR = "operator", "Forwarded by the platform operator"  # RTS9


class Verification(models.TextChoices):
    PENDING = "pending", "Not yet verified"
    SESSION = "session", "Signed in to the portal"  # ACC7: the account's own authentication
    CODE = "code", "Identifiers matched and a code to the contact on file"
    STAFF = "staff", "Checked by staff (identification seen)"
    NOT_REQUIRED = "not_required", "Not needed for this kind of request"
    FAILED = "failed", "Could not be verified"


class ExtensionReason(models.TextChoices):
    # No free text: an extension letter states one of these, never anything about the patient.
    VOLUME = "volume", "The records are extensive and take longer to gather"
    COMPLEXITY = "complexity", "The request is complex"
    NUMBER = "number", "We received a number of requests at once"
    VERIFICATION = "verification", "We are still confirming who is asking"


class RightsRequest(TenantModel):
    # Empty until the requester is verified against a record (the public form, a logged call).
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    kind = models.CharField(max_length=20, choices=RequestKind.choices)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.RECEIVED)
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.PORTAL)
    # The portal account that asked (empty for the public form and for requests staff log), and
    # whether as the patient's representative (a minor's parent or guardian: MIN3) rather than
    # for themselves; `by_agent`: an authorised agent with the patient's signed permission (RTS6).
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    by_representative = models.BooleanField(default=False)
    by_agent = models.BooleanField(default=False)
    # The staff member who took a request by e-mail, phone, letter or in person.
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    verification = models.CharField(max_length=14, choices=Verification.choices, default=Verification.PENDING)
    verified_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    # Deadlines (confide/rights/deadlines.py), fixed when the request arrives from the regimes in
    # force: `regimes` the ids that set them; `ack_due_on` an acknowledgement (CCPA: 10 business
    # days), `due_on` the answer, `extended_due_on` after the one extension allowed.
    regimes = models.JSONField(default=list)
    ack_due_on = models.DateField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    due_on = models.DateField()
    extended_due_on = models.DateField(null=True, blank=True)
    extension_reason = models.CharField(max_length=14, choices=ExtensionReason.choices, blank=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    # An appeal names the decision it appeals; its reviewer must not be the one who decided (RTS7).
    appeal_of = models.ForeignKey("self", on_delete=models.PROTECT, related_name="appeals", null=True, blank=True)
    # queue part: the requester's US state (two letters) where a deadline depends on it: an
    # appeal's (RTS7: Colorado 45 days, Connecticut and Virginia 60). Empty when it does not.
    state = models.CharField(max_length=2, blank=True)
    # RTS10: the fee asked for copies, in cents (0 unless the practice sets one; never above cost).
    fee_cents = models.PositiveIntegerField(default=0)
    # Part "export": staff record the patient's specific authorization to include psychotherapy
    # notes in their copy (HIPAA §164.508(a)(2)); without it they are never in the export.
    psychotherapy_authorized = models.BooleanField(default=False)
    # Every change is a conditional update on version (a stale page gets 409).
    version = models.PositiveIntegerField(default=1)
    detail = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line], blank=True, null=True)

    class Meta:
        ordering = ["due_on", "received_at"]
        indexes = [models.Index(fields=["practice", "status", "due_on"], name="rights_open_by_due")]

    def __str__(self) -> str:
        return f"rights-request:{self.pk}"

    @property
    def answer_due_on(self):
        return self.extended_due_on or self.due_on


class LetterKind(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
    VERIFICATION = "verification", "Verification code"
    EXTENSION = "extension", "Extension notice"
    FULFILMENT = "fulfilment", "Answer"
    DENIAL = "denial", "Denial"
    AMENDMENT_OUTCOME = "amendment_outcome", "Amendment outcome"
    REBUTTAL = "rebuttal", "Rebuttal"
    APPEAL_OUTCOME = "appeal_outcome", "Appeal decision"
    AGENT_NOTICE = "agent_notice", "Notice of an agent's request"
    DISCLOSURE_NOTICE = "disclosure_notice", "Notice of a compelled disclosure"


class LetterStatus(models.TextChoices):
    SENT = "sent", "Sent"
    TO_PRINT = "to_print", "To be printed and posted"  # no channel the patient agreed to: staff post it
    REFUSED = "refused", "Not sent (the send gate refused)"


class Letter(TenantModel):
    """A letter kept with its request (or, for a compelled disclosure's notice, with the patient):
    what was said, when, by which channel. The body may name health matters (the basis of an
    amendment's denial): sealed under the patient's key. A letter to a requester not yet matched
    to a record (an acknowledgement of the public form) keeps no body, only its template and the
    dates it filled in (`context`: never a name, never contact data), so it can be shown again."""

    request = models.ForeignKey(RightsRequest, on_delete=models.PROTECT, related_name="letters", null=True, blank=True)
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    kind = models.CharField(max_length=20, choices=LetterKind.choices)
    status = models.CharField(max_length=10, choices=LetterStatus.choices)
    channel = models.CharField(max_length=10, blank=True)  # email, sms, portal, post
    sent_at = models.DateTimeField()
    template = models.CharField(max_length=80)  # the template's path: which required items it carries
    context = models.JSONField(default=dict)  # dates and kinds only
    body = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line], null=True, blank=True)

    class Meta:
        ordering = ["sent_at"]
        indexes = [models.Index(fields=["practice", "request", "sent_at"], name="rights_letters_by_request")]

    def __str__(self) -> str:
        return f"rights-letter:{self.pk}"


# --- part "intake" (issue 17): checking who asks (ACC7) and an agent's authorisation (RTS6) -------
class IdentityCheck(TenantModel):
    """One attempt to verify who made a request that arrived without a signed-in account (the
    public form, a request the operator forwarded). A data subject of its own: what the visitor
    typed to be verified (name, date of birth, e-mail, phone) is sealed under the check's own key,
    used only to match a chart by blind index and to reach an agent, and the row is DELETED and its
    key shredded once the check ends (verified, failed, expired: ACC7, "used only for verification
    and deleted after"). The code itself is never stored: only its keyed hash. `token` is the
    unguessable id in the verification page's URL (not the request's id).

    `step`: `requester` (the patient, a minor's parent, or an agent, by the code sent to the
    contact on file; for an agent, to the agent's own contact) or `patient` (an agent's request:
    the patient confirms by a code to the contact on file). `patient` is the matched chart, or
    empty when nothing matched (the visitor is not told: the page reads the same)."""

    DATA_SUBJECT_ROOT = True  # confide/policy/reachability.py: a subject of its own

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the code"
        USED = "used", "Code used"
        FAILED = "failed", "Failed"

    class Step(models.TextChoices):
        REQUESTER = "requester", "The person asking"
        PATIENT = "patient", "The patient confirms an agent's request"

    request = models.ForeignKey(RightsRequest, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("records.Patient", on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    token = models.CharField(max_length=64, unique=True)
    step = models.CharField(max_length=10, choices=Step.choices, default=Step.REQUESTER)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    code_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # An agent's signed authorisation while the request is not verified: the stored object's name
    # (`<practice>/<check id>/agent-authorisation/<uuid>`, never the file's own name), sealed
    # under the check's own key; moved under the patient's key once both identities are verified.
    document_name = models.CharField(max_length=200, blank=True)
    document_type = models.CharField(max_length=40, blank=True)
    given_name = EncryptedTextField(category="identifiers.name", validators=[single_line], blank=True, null=True)
    family_name = EncryptedTextField(category="identifiers.name", validators=[single_line], blank=True, null=True)
    date_of_birth = EncryptedDateField(category="identifiers.dob", blank=True, null=True)
    email = EncryptedTextField(category="contact.email", validators=[single_line], blank=True, null=True)
    phone = EncryptedTextField(category="contact.phone", validators=[single_line], blank=True, null=True)
    # What the visitor typed about the request, until it can be sealed under the patient's key.
    detail = EncryptedTextField(category="communications.messages", validators=[multi_line], blank=True, null=True)

    class Meta:
        indexes = [models.Index(fields=["practice", "request"], name="rights_check_by_request")]

    def __str__(self) -> str:
        return f"identity-check:{self.pk}"


class AgentDocument(TenantModel):
    """An authorised agent's signed permission (RTS6), kept with the request once both the agent
    and the patient are verified: the encrypted object (sealed under the patient's key, category
    contact.guardian: someone acting for the patient), its type and size. No name of the file."""

    CATEGORY = "contact.guardian"

    request = models.ForeignKey(RightsRequest, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    storage_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"agent-document:{self.pk}"


# --- end part "intake"
# --- amend part: amendments (RTS3, HIPAA §164.526) and records-release links (DSC1) -----------
# Everything the patient and the practice write about an amendment (what is asked, the reviewer's
# explanation, the statement of disagreement, the rebuttal) is correspondence between the patient
# and the practice about the record: sealed under the patient's key as `communications.messages`.
# A field's category is fixed in code, while the disputed part's category varies (a note, the
# health background), so the disputed part's own category is kept in `target_category` and checked
# by the services (only a role that reads that part for treatment sees the content).
AMENDMENT_TEXT_MAX = 2000  # M7: the statement of disagreement's limit (the request's, the rebuttal's too)


class AmendmentStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    ACCEPTED = "accepted", "Accepted: the record was amended"
    DENIED = "denied", "Denied"


class DenialBasis(models.TextChoices):
    # §164.526(a)(2): the only grounds (M4); each label is the sentence the denial letter states.
    NOT_CREATED_HERE = "not_created_here", "We did not create this information, and whoever did is still able to act on your request."
    NOT_DESIGNATED_RECORD_SET = "not_record_set", "This information is not part of the records we use to make decisions about you."
    NOT_AVAILABLE_FOR_INSPECTION = "not_inspectable", "This information is not information the law lets you see and copy."
    ACCURATE_COMPLETE = "accurate_complete", "We reviewed the information and it is accurate and complete."


class Amendment(TenantModel):
    """A `correct` request's amendment: which part of the record it disputes (a reference that
    survives edits: the model's label, the row's id, the field, and that part's category), what
    the patient asks (sealed), and the decision."""

    request = models.OneToOneField(RightsRequest, on_delete=models.PROTECT, related_name="amendment")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    target_model = models.CharField(max_length=40)  # "records.ProgressNote", "records.Patient"
    target_id = models.UUIDField()
    target_field = models.CharField(max_length=40, blank=True)  # a field of the patient's record
    target_category = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=AmendmentStatus.choices, default=AmendmentStatus.PENDING)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    denial_basis = models.CharField(max_length=20, choices=DenialBasis.choices, blank=True)
    amended_resource_id = models.UUIDField(null=True, blank=True)  # the addendum written on acceptance
    asked = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line])
    explanation = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line], null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["practice", "patient", "target_category"], name="amendments_by_part")]

    def __str__(self) -> str:
        return f"amendment:{self.pk}"


class Disagreement(TenantModel):
    """The patient's statement of disagreement with a denial (M7), sealed."""

    amendment = models.OneToOneField(Amendment, on_delete=models.PROTECT, related_name="disagreement")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    filed_at = models.DateTimeField()
    text = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line])

    def __str__(self) -> str:
        return f"disagreement:{self.pk}"


class Rebuttal(TenantModel):
    """The practice's rebuttal of a statement of disagreement (M8): a copy goes to the patient
    (a kept letter) in the same transaction, so `copy_sent_at` is never empty."""

    amendment = models.OneToOneField(Amendment, on_delete=models.PROTECT, related_name="rebuttal")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField()
    copy_sent_at = models.DateTimeField()
    copy_letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="+")
    text = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line])

    def __str__(self) -> str:
        return f"rebuttal:{self.pk}"


class ReleaseLink(TenantModel):
    """A records release: an expiring, revocable link to a read-only package of some categories
    of one patient's record, for another provider or an attorney. The link is itself a
    disclosure: its recipient, what and why live (sealed) in the accounting's row
    (`disclosures.Disclosure`, source release, source_id = this link's id), written in the same
    transaction. Only a hash of the token is kept; the token is shown once."""

    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    categories = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    opened_count = models.PositiveIntegerField(default=0)
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "patient", "created_at"], name="release_links_by_patient")]

    def __str__(self) -> str:
        return f"release-link:{self.pk}"
# --- part "export": the access / portable copy (RTS1, RTS2, RTS10) --------------------------------
# RTS10: a flat fee for an electronic copy may be asked, never above this (HIPAA's flat-fee
# option for electronic copies, rules-and-deadlines §1.1 A7/A8).
COPY_FEE_CAP_CENTS = 650


class RightsSettings(TenantModel):
    """A practice's settings for rights requests: the fee for a copy (0: none, the default)."""

    copy_fee_cents = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice"], name="rights_settings_one_per_practice"),
            models.CheckConstraint(condition=models.Q(copy_fee_cents__lte=COPY_FEE_CAP_CENTS), name="rights_copy_fee_capped"),
        ]

    def __str__(self) -> str:
        return f"rights-settings:{self.pk}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Being prepared"
    READY = "ready", "Ready to download"
    FAILED = "failed", "Could not be prepared"
    EXPIRED = "expired", "Link expired"


class Export(TenantModel):
    """One run of a patient's copy for a `see` or `copy` request (confide/rights/export.py). The
    ZIP is sealed in the vault's encrypted files under the patient's key; `stored_name` is set only
    when it is complete (a killed run leaves nothing downloadable). The download link is
    reached only from the patient's own portal session (or the CLI), for DOWNLOAD_DAYS."""

    request = models.ForeignKey(RightsRequest, on_delete=models.PROTECT, related_name="exports")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    stored_name = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)  # rows and files by section: numbers only

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "patient", "status"], name="rights_exports_by_patient")]

    def __str__(self) -> str:
        return f"rights-export:{self.pk}"

    @property
    def link_expired(self) -> bool:
        from django.utils import timezone

        return self.status == ExportStatus.EXPIRED or (
            self.status == ExportStatus.READY and (self.expires_at is None or self.expires_at <= timezone.now())
        )

    @property
    def percent(self) -> int:
        return 100 if self.status == ExportStatus.READY else (int(self.done * 100 / self.total) if self.total else 0)
