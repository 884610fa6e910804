"""Threads, messages, their delivery, and the opt-out state of a phone number or an address.

What is where (TRK1: technical data apart from content and identity):
- `Thread`: one conversation per patient (and one per representative, a minor's parent, when
  they write for the child): assignment, the urgent flag, unread counts. No PHI in its columns.
- `Message`: one message in one channel. The body is sealed under the patient's key (category
  `communications.messages`); everything else is ids and codes: direction, channel, kind
  (operational or marketing), topic (what it is for), status, the gate's refusal code.
- `Delivery`: the provider's view of an outbound message (provider id, status history with
  timestamps, error code), with no body and no name: what TRK1 calls technical information.
- `PhoneOptOut` / `EmailOptOut`: keyed by the blind index of the number or address (never the
  value), so a STOP from a number nobody in the practice has is honoured too.
- `OutboxEntry`: what the console SMS adapter "sent" in development (`confide outbox`); the body
  sealed like the message's, the recipient as its blind id.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line
from confide.core.text import multi_line, single_line
from confide.vault.fields import EncryptedTextField

MESSAGES = "communications.messages"
BODY_MAX = 1600  # Twilio's limit for one SMS body (../shared/reference/rules-and-deadlines.md §3.5)
PORTAL_BODY_MAX = 10_000
EMAIL_BODY_MAX = 20_000


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    SMS = "sms", "Text message"
    EMAIL = "email", "E-mail"


class Kind(models.TextChoices):
    """TCPA / MSG2: operational messages (about care, the account, security) and marketing
    (anything promotional) never share a consent: one cannot be opted into the other."""

    OPERATIONAL = "operational", "About care and your account"
    MARKETING = "marketing", "News and offers"


class Topic(models.TextChoices):
    """What a message is for. Each topic has exactly one kind (TOPIC_KIND)."""

    STAFF_REPLY = "staff_reply", "A message from the practice"
    PATIENT_MESSAGE = "patient_message", "A message from the patient"
    REMINDER = "reminder", "Appointment reminder"
    SECURITY = "security", "Account security"
    NOTIFICATION = "notification", "New secure message notice"
    KEYWORD_REPLY = "keyword_reply", "Reply to a keyword (STOP, START, HELP)"
    EMERGENCY_REPLY = "emergency_reply", "Automatic emergency reply"
    BILLING = "billing", "Billing"
    CAMPAIGN = "campaign", "Newsletter or offer"
    # queue part (issue 17): a letter about a privacy request the patient made (they asked for
    # it: like a message about their care, never optional, never marketing).
    RIGHTS_LETTER = "rights_letter", "About your privacy request"


TOPIC_KIND: dict[str, str] = {
    Topic.STAFF_REPLY: Kind.OPERATIONAL,
    Topic.PATIENT_MESSAGE: Kind.OPERATIONAL,
    Topic.REMINDER: Kind.OPERATIONAL,
    Topic.SECURITY: Kind.OPERATIONAL,
    Topic.NOTIFICATION: Kind.OPERATIONAL,
    Topic.KEYWORD_REPLY: Kind.OPERATIONAL,
    Topic.EMERGENCY_REPLY: Kind.OPERATIONAL,
    Topic.BILLING: Kind.OPERATIONAL,
    Topic.CAMPAIGN: Kind.MARKETING,
    Topic.RIGHTS_LETTER: Kind.OPERATIONAL,  # queue part
}
assert set(TOPIC_KIND) == set(Topic.values)

# Replies the patient's own text asked for (a keyword's one confirmation, the emergency reply):
# sent at once, whatever the hour, never counted against the patient's limits.
RESPONSE_TOPICS = frozenset({Topic.KEYWORD_REPLY, Topic.EMERGENCY_REPLY})


class Direction(models.TextChoices):
    INBOUND = "in", "From the patient"
    OUTBOUND = "out", "To the patient"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    DEFERRED = "deferred", "Waiting for the allowed hours"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNDELIVERED = "undelivered", "Not delivered"
    REFUSED = "refused", "Not sent"
    RECEIVED = "received", "Received"


# Provider statuses only move forward (callbacks arrive out of order: §3.5).
STATUS_RANK = {Status.QUEUED: 0, Status.DEFERRED: 0, Status.SENDING: 1, Status.SENT: 2,
               Status.DELIVERED: 3, Status.UNDELIVERED: 3, Status.FAILED: 3}  # fmt: skip
FINAL_STATUSES = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.REFUSED, Status.RECEIVED})


class Thread(TenantModel):
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    # The representative's own conversation about the patient (a minor's parent); null: the
    # patient's own thread (which front-desk SMS and e-mail also land in).
    link = models.ForeignKey("accounts.PortalLink", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    urgent = models.BooleanField(default=False)
    urgent_reason = models.CharField(max_length=32, blank=True)  # a code: emergency, crisis, opt-out-review
    closed = models.BooleanField(default=False)
    unread_by_staff = models.PositiveIntegerField(default=0)
    unread_by_patient = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "patient"], condition=models.Q(link__isnull=True), name="messaging_one_own_thread"),
            models.UniqueConstraint(fields=["practice", "patient", "link"], condition=models.Q(link__isnull=False), name="messaging_one_thread_per_link"),
        ]
        indexes = [models.Index(fields=["practice", "closed", "last_message_at"], name="messaging_inbox")]

    def __str__(self) -> str:
        return f"thread:{self.pk}"


class Message(TenantModel):
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    topic = models.CharField(max_length=16, choices=Topic.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    body = EncryptedTextField(category=MESSAGES, subject_field="patient_id", validators=[multi_line])
    # What the SMS or e-mail carried: the body itself, or only the notice that a secure message
    # waits in the portal (the patient has not asked for details by that channel).
    carried = models.CharField(max_length=8, blank=True)  # "body" | "notice" | "" (portal, inbound)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The gate's answer: a code (consent, opted-out, quiet-hours, content-photo, egress, …) and a
    # sentence for staff, never PHI.
    refusal_code = models.CharField(max_length=32, blank=True)
    refusal_reason = models.CharField(max_length=300, blank=True)
    # Florida/Oklahoma: at most 3 per 24 h on one subject; the key of that subject.
    subject_key = models.CharField(max_length=64, blank=True)
    # Retries and crashes never send twice: the provider call carries this key, and a message
    # found mid-send after a crash is looked up by it before any new attempt (tasks.py).
    idempotency_key = models.CharField(max_length=64, unique=True, default=uuid.uuid4)
    send_after = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker's claim on a send
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)  # by its recipient (staff for inbound)
    read_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    campaign_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["practice", "thread", "created_at"], name="messaging_thread_order"),
            models.Index(fields=["practice", "status", "send_after"], name="messaging_due"),
            models.Index(fields=["practice", "patient", "channel", "created_at"], name="messaging_recent"),
        ]

    def __str__(self) -> str:
        return f"message:{self.pk}"


class Delivery(TenantModel):
    """The provider's side of one outbound SMS or e-mail: technical data only (TRK1)."""

    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="delivery")
    provider = models.CharField(max_length=16)  # console, twilio, email
    provider_ref = models.CharField(max_length=64, blank=True)  # Twilio MessageSid, an e-mail's Message-ID
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error_code = models.CharField(max_length=16, blank=True)
    error_reason = models.CharField(max_length=200, blank=True)
    history = models.JSONField(default=list)  # [[status, ISO time], …]
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "provider_ref"], name="messaging_delivery_ref")]

    def __str__(self) -> str:
        return f"delivery:{self.pk}"


class OptOutSource(models.TextChoices):
    KEYWORD = "keyword", "A keyword text (STOP)"
    FREE_TEXT = "free_text", "A text asking to stop"
    STAFF = "staff", "Staff, at the patient's request"
    PORTAL = "portal", "The patient, in the portal"
    PROVIDER = "provider", "The carrier or provider"
    UNSUBSCRIBE_LINK = "link", "An unsubscribe link"


class PhoneOptOut(TenantModel):
    """A number that said STOP: nothing but the one confirmation goes to it until it says START."""

    phone_blind = models.CharField(max_length=32)
    opted_out = models.BooleanField(default=True)
    source = models.CharField(max_length=12, choices=OptOutSource.choices)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "phone_blind"], name="messaging_one_phone_optout")]


class EmailOptOut(TenantModel):
    """An address that unsubscribed from marketing e-mail (one click, RFC 8058)."""

    email_blind = models.CharField(max_length=32)
    opted_out = models.BooleanField(default=True)
    source = models.CharField(max_length=12, choices=OptOutSource.choices)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "email_blind"], name="messaging_one_email_optout")]


class OutboxEntry(TenantModel):
    """One call of the console SMS adapter: the development outbox (`confide outbox`). Every
    call makes a row, so a double send would show as two rows for one idempotency key."""

    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("records.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    recipient_blind = models.CharField(max_length=32)
    idempotency_key = models.CharField(max_length=64)
    provider_ref = models.CharField(max_length=64)
    body = EncryptedTextField(category=MESSAGES, subject_field="patient_id", validators=[multi_line])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["idempotency_key"], name="messaging_outbox_key")]


class NotificationTopic(models.TextChoices):
    NEW_MESSAGES = "new_messages", "New secure messages"
    REMINDERS = "reminders", "Appointment reminders"
    BILLING = "billing", "Bills and payments"
    NEWS = "news", "News and offers"


class NotificationPreference(TenantModel):
    """MSG6: which channels a patient wants for each kind of notification. No row: the default
    (NOTIFICATION_DEFAULTS). Channels still need consent where the gate asks for it."""

    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=16, choices=NotificationTopic.choices)
    portal = models.BooleanField(default=True)
    sms = models.BooleanField(default=False)
    email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "patient", "topic"], name="messaging_one_preference")]


class MessageTemplate(TenantModel):
    """A reply the practice keeps ready ("Your forms are ready in the portal"): practice text,
    never a patient's data, so it is stored in the clear."""

    name = models.CharField(max_length=80, validators=[single_line])
    body = models.TextField(max_length=BODY_MAX, validators=[multi_line])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["practice", "name"], name="messaging_template_name")]


# --- inbound (issue 15 items 4-6: webhooks, keywords, the unmatched queue) --------------------
DEFAULT_EMERGENCY_PHRASES = (
    "suicide", "suicidal", "kill myself", "end my life", "want to die", "hurt myself", "harm myself",
    "overdose", "overdosed", "chest pain", "can't breathe", "cannot breathe", "cant breathe", "not breathing",
    "heart attack", "stroke", "emergency", "bleeding heavily", "unconscious", "seizure",
)  # fmt: skip
# Phrases that mean a mental-health crisis: the reply adds the crisis line (988) to 911.
DEFAULT_CRISIS_PHRASES = ("suicide", "suicidal", "kill myself", "end my life", "want to die", "hurt myself", "harm myself", "overdose", "overdosed")
DEFAULT_EMERGENCY_REPLY = "If this is an emergency, call 911 now. This number is not watched around the clock."
DEFAULT_CRISIS_REPLY = "If you are thinking about hurting yourself, call or text 988 (Suicide & Crisis Lifeline) now, or call 911."


class MessagingSettings(TenantModel):
    """One row per practice: the practice's own SMS number (not PHI: stored plainly in E.164,
    it is how an inbound text finds its practice), the emergency and crisis phrases and replies
    (MSG5), and the contact a HELP reply gives.

    The webhook knows only the number Twilio was texted at, not the practice: PostgreSQL's row
    security admits the one row whose number the transaction names (`confide.sms_to`), read
    only (`inbound.practice_for_number`); every other read is the practice's own, as usual."""

    rls_extra_condition = "sms_number = NULLIF(current_setting('confide.sms_to', true), '')"

    sms_number = models.CharField(max_length=20, blank=True, validators=[single_line])  # E.164, "" when none
    help_contact = models.CharField(max_length=120, blank=True, validators=[single_line])  # "call 415-555-0100" or an address
    emergency_phrases = models.TextField(blank=True, validators=[multi_line])  # one a line, added to the defaults
    emergency_reply = models.CharField(max_length=300, blank=True, validators=[single_line])  # "" → the default
    crisis_reply = models.CharField(max_length=300, blank=True, validators=[single_line])  # "" → the default

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice"], name="messaging_one_settings"),
            models.UniqueConstraint(fields=["sms_number"], condition=~models.Q(sms_number=""), name="messaging_sms_number_unique"),
        ]

    def __str__(self) -> str:
        return f"messaging-settings:{self.practice_id}"


class InboundReceipt(TenantModel):
    """A provider message id consumed once (MSG7: replays do nothing). The SID's SHA-256, not the
    SID, and the unique constraint is what decides between two deliveries racing each other."""

    sid_hash = models.CharField(max_length=64)
    hook = models.CharField(max_length=16)  # sms
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "hook", "sid_hash"], name="messaging_receipt_once")]


class UnmatchedInbound(TenantModel):
    """A text from a number that matches no patient, or several: waits for staff to file it under
    the right patient or dismiss it. The number and the body are sealed under the practice's key
    (no patient's key exists for them yet); the blind index finds the number's other texts."""

    from_blind = models.CharField(max_length=32)
    from_number = EncryptedTextField(category="contact.phone", scope="p", validators=[single_line])
    body = EncryptedTextField(category=MESSAGES, scope="p", validators=[multi_line])
    candidates = models.PositiveSmallIntegerField(default=0)  # how many patients the number matched
    urgent_reason = models.CharField(max_length=32, blank=True, validators=[single_line])  # emergency, crisis, opt-out
    received_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolution = models.CharField(max_length=12, blank=True)  # filed | dismissed
    patient = models.ForeignKey("records.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["practice", "resolved_at", "received_at"], name="messaging_unmatched_open")]

    def __str__(self) -> str:
        return f"unmatched:{self.pk}"
class Attachment(TenantModel):
    """A file the patient sent with a portal message: validated like every upload (type by its
    bytes, size and pixel caps, images re-encoded without their metadata) and stored encrypted
    under the patient's key (category `communications.messages`). No file name is kept (a name
    can say what the file is about); the page calls it by its type and size."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    stored_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"attachment:{self.pk}"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"


class Campaign(TenantModel):
    """A newsletter or offer (MSG2): practice-written text, never a patient's data, so stored in
    the clear. Its audience is never stored with it: it is the patients whose marketing consent
    for the channel is granted *when it is sent* (messaging/campaigns.py)."""

    name = models.CharField(max_length=120, validators=[single_line])
    channel = models.CharField(max_length=8, choices=[(Channel.SMS.value, Channel.SMS.label), (Channel.EMAIL.value, Channel.EMAIL.label)])
    subject = models.CharField(max_length=120, blank=True, validators=[single_line])  # e-mail only; practice text, never PHI
    body = models.TextField(max_length=EMAIL_BODY_MAX, validators=[multi_line])
    status = models.CharField(max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Progress (conditional F() updates by the sending task): the audience when sending started,
    # how many were walked, how many messages were queued, how many the gate refused at once.
    audience_count = models.PositiveIntegerField(default=0)
    processed_count = models.PositiveIntegerField(default=0)
    queued_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"campaign:{self.pk}"


class CampaignRecipient(TenantModel):
    """One patient a campaign was sent to: at most one per campaign (the unique constraint is
    what makes a second send, a double click or a re-run task, send nothing). Marketing data:
    removed when the patient unsubscribes (RET3, messaging/unsubscribe.py)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    message_id = models.UUIDField(null=True, blank=True)
    outcome = models.CharField(max_length=12, blank=True)  # queued, deferred, refused
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "patient"], name="messaging_campaign_once_per_patient")]
