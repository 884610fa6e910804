"""Messaging services: the only code that writes threads and messages.

    send_message(actor, patient_id=…, channel=…, topic=…, body=…)  compose, gate (preview), queue
    receive_message(patient_id=…, channel=…, body=…, practice_id=…)   an inbound message, filed
    thread_for(practice_id, patient_id, link_id=None)                  the conversation, made once

Sending: the body is sealed under the patient's key inside the chart door opened by the sender
(a staff member for treatment with `communications.messages` and the contact details the gate
reads; a registered system job for automatic messages), the gate is run as a preview (a refusal
is final at once and shown to staff; a deferral sets `send_after`), and `deliver_message` is
queued on commit with ids only. The send task runs the gate again, finally, just before the
provider call (messaging/tasks.py). Each step one audit entry: queued, then sent, deferred,
refused or failed — ids, channel, kind, topic and the code; never the body.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from confide.access import policy
from confide.access.door import MESSAGING_INBOUND_JOB, MESSAGING_SEND_JOB, REMINDER_JOB, SystemActor, open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.core.text import multi_line
from confide.messaging import gate
from confide.messaging.models import (
    BODY_MAX,
    EMAIL_BODY_MAX,
    PORTAL_BODY_MAX,
    TOPIC_KIND,
    Channel,
    Direction,
    Kind,
    Message,
    Status,
    Thread,
    Topic,
)

logger = logging.getLogger(__name__)

MAX_BODY = {Channel.SMS: BODY_MAX, Channel.PORTAL: PORTAL_BODY_MAX, Channel.EMAIL: EMAIL_BODY_MAX}
# Topics only Confide's own jobs send (module gate: they skip consent or quiet hours).
STAFF_NEVER_SENDS = frozenset({Topic.KEYWORD_REPLY, Topic.EMERGENCY_REPLY, Topic.SECURITY})
# What a staff member's opening of the chart asks for: the body, and what the gate reads.
SEND_CATEGORIES = frozenset({policy.MESSAGES, policy.PHONE, policy.EMAIL, policy.ADDRESS})
# A marketing message opens only the channel's contact detail: the door asks the ledger for the
# marketing consent of each contact category opened (e-mail → marketing_email), so opening both
# would ask for both consents.
MARKETING_CATEGORIES = {
    Channel.EMAIL: frozenset({policy.MESSAGES, policy.EMAIL}),
    Channel.SMS: frozenset({policy.MESSAGES, policy.PHONE, policy.ADDRESS}),
}


REMINDER_CATEGORIES = frozenset({policy.MESSAGES, policy.PHONE, policy.EMAIL})


def categories_for(kind: str, channel: str) -> frozenset[str]:
    """What the chart door is opened for to write or deliver a message of `kind` by `channel`."""
    if kind == Kind.MARKETING:
        return MARKETING_CATEGORIES.get(Channel(channel), frozenset({policy.MESSAGES}))
    return SEND_CATEGORIES


def parse_channel(value) -> Channel:
    try:
        return Channel(str(value))
    except ValueError:
        raise InvalidInput("Choose portal, text message or e-mail.") from None


def parse_topic(value) -> Topic:
    try:
        return Topic(str(value))
    except ValueError:
        raise InvalidInput("That is not a kind of message Confide sends.") from None


def sms_length(text: str) -> int:
    """A text's length as the carrier counts it: UTF-16 code units, so an emoji (outside the
    Basic Multilingual Plane) is two. Accents and other non-GSM characters are allowed (the
    message goes as UCS-2, in shorter segments); only the 1,600 total is a limit."""
    return len(text.encode("utf-16-le")) // 2


def clean_body(body, channel: Channel) -> str:
    """The body as sent: trimmed, not empty, within the channel's length, no control characters."""
    text = (body if isinstance(body, str) else "").strip()
    if not text:
        raise InvalidInput("Write a message first.")
    limit = MAX_BODY[channel]
    length = sms_length(text) if channel == Channel.SMS else len(text)
    if length > limit:
        raise InvalidInput(f"A {channel.label.lower()} holds at most {limit:,} characters; this one has {length:,}.")
    try:
        multi_line(text)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from None
    return text


def thread_for(practice_id, patient_id, link_id=None) -> Thread:
    """The patient's own thread (link None) or a representative's, made on first use; two
    requests making it at once both get the one row (the unique constraint decides)."""
    with tenant_context(practice_id=practice_id):
        found = Thread.objects.filter(patient_id=patient_id, link_id=link_id).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return Thread.objects.create(practice_id=practice_id, patient_id=patient_id, link_id=link_id)
        except IntegrityError:
            return Thread.objects.get(patient_id=patient_id, link_id=link_id)


@dataclass(frozen=True)
class Contact:
    """What the gate reads from the chart, decrypted inside the door; never logged."""

    phone: str
    email: str
    address: dict | None

    def __repr__(self) -> str:
        return "Contact(…)"

    def to(self, channel: str) -> str:
        return self.phone if channel == Channel.SMS else self.email if channel == Channel.EMAIL else ""


def contact_of(patient, categories=SEND_CATEGORIES) -> Contact:
    """The contact details the opening allows (`categories`: what the door was opened for)."""
    address = patient.address if policy.ADDRESS in categories and isinstance(patient.address, dict) else None
    phone = (patient.phone or "") if policy.PHONE in categories else ""
    email = (patient.email or "") if policy.EMAIL in categories else ""
    return Contact(phone=phone, email=email, address=address)


def _opening(actor, patient_id, kind: str, request=None, channel: str = Channel.PORTAL):
    """The chart door for writing a message: staff for treatment, a system job as registered."""
    if isinstance(actor, StaffActor):
        if not actor.has(Perm.MESSAGES_SEND):
            raise Forbidden("Your role does not send messages to patients.")
        return open_chart(actor, patient_id, Purpose.TREATMENT, categories=SEND_CATEGORIES, request=request)
    if isinstance(actor, SystemActor) and actor.name == MESSAGING_SEND_JOB.name:
        purpose = Purpose.MARKETING if kind == Kind.MARKETING else Purpose.OPERATIONS
        return open_chart(actor, patient_id, purpose, categories=categories_for(kind, channel), request=request)
    if isinstance(actor, SystemActor) and actor.name == REMINDER_JOB.name:
        # The narrow reminder job (scheduling, above messaging): appointment reminders only,
        # opening the number, the address and the body it writes — never the postal address
        # (quiet hours then take the number's area code, else the practice's zone).
        if kind != Kind.OPERATIONAL:
            raise Forbidden("The reminder job sends appointment reminders only.")
        return open_chart(actor, patient_id, Purpose.TREATMENT, categories=REMINDER_CATEGORIES, request=request)
    raise Forbidden("Messages are sent by staff or by the messaging job.")


def send_message(
    actor,
    *,
    patient_id,
    channel,
    topic,
    body,
    subject_key: str = "",
    thread: Thread | None = None,
    campaign_id=None,
    has_photo: bool = False,
    request=None,
) -> Message:
    """Write an outbound message and queue its delivery (or refuse it at once, on record)."""
    checked_channel = parse_channel(channel)
    checked_topic = parse_topic(topic)
    if checked_topic == Topic.PATIENT_MESSAGE:
        raise InvalidInput("A patient's message is received, not sent.")
    if isinstance(actor, StaffActor) and checked_topic in STAFF_NEVER_SENDS:
        # These pass the gate on the patient's own request (a keyword, an emergency text) or
        # are Confide's own wording; a staff member choosing them would skip consent and hours.
        raise InvalidInput("That kind of message is sent by Confide itself, not written by staff.")
    if isinstance(actor, SystemActor) and actor.name == REMINDER_JOB.name and checked_topic != Topic.REMINDER:
        raise Forbidden("The reminder job sends appointment reminders only.")
    text = clean_body(body, checked_channel)
    kind = TOPIC_KIND[checked_topic]
    practice_id = actor.practice_id
    with _opening(actor, patient_id, kind, request=request, channel=checked_channel) as chart:
        patient = chart.patient
        reminder_job = isinstance(actor, SystemActor) and actor.name == REMINDER_JOB.name
        contact = contact_of(patient, REMINDER_CATEGORIES if reminder_job else categories_for(kind, checked_channel))
        conversation = thread or thread_for(practice_id, patient.pk)
        if conversation.patient_id != patient.pk:
            raise InvalidInput("That conversation is about another patient.")
        message = Message(
            practice_id=practice_id, thread=conversation, patient_id=patient.pk, direction=Direction.OUTBOUND,
            channel=checked_channel, kind=kind, topic=checked_topic, status=Status.QUEUED, body=text,
            author_id=getattr(actor, "user_id", None), subject_key=str(subject_key)[:64], campaign_id=campaign_id,
        )  # fmt: skip
        outgoing = gate.Outgoing(
            practice_id=practice_id, patient_id=patient.pk, channel=checked_channel, topic=checked_topic, kind=kind, body=text,
            to=contact.to(checked_channel), address=contact.address, has_photo=has_photo, subject_key=message.subject_key,
            message_id=message.pk, by_staff=isinstance(actor, StaffActor),
        )  # fmt: skip
        decision = gate.check(outgoing, final=False, actor=actor, request=request)
        _apply_preview(message, decision)
        message.save()
        _touch_thread(conversation, message)
        record(
            AuditEvent.MESSAGE_QUEUED, practice_id=practice_id, actor=audit_actor(actor), purpose=Purpose.TREATMENT.value,
            subject_id=patient.pk, resource_ids=[message.pk, conversation.pk], categories=[policy.MESSAGES],
            detail={"channel": checked_channel.value, "kind": kind, "topic": checked_topic.value}, request=request,
        )  # fmt: skip
        if decision.outcome == "refuse":
            _record_outcome(message, AuditEvent.MESSAGE_REFUSED, actor, {"code": decision.code}, request=request)
        elif decision.outcome == "defer":
            _record_outcome(message, AuditEvent.MESSAGE_DEFERRED, actor,
                            {"code": decision.code, "until": decision.send_after.isoformat()}, request=request)  # fmt: skip
        if message.status in (Status.QUEUED, Status.DEFERRED):
            transaction.on_commit(lambda: enqueue_delivery(message), robust=True)
    logger.info("message %s %s (%s, %s)", message.pk, message.status, checked_channel.value, checked_topic.value)
    return message


def _apply_preview(message: Message, decision: gate.Decision) -> None:
    if message.channel == Channel.PORTAL and decision.sends:
        # A portal message never leaves the server: it is delivered when it is written.
        message.status = Status.DELIVERED
        return
    if decision.outcome == "refuse":
        message.status = Status.REFUSED
        message.refusal_code, message.refusal_reason = decision.code, decision.reason[:300]
    elif decision.outcome == "defer":
        message.status = Status.DEFERRED
        message.send_after = decision.send_after
        message.refusal_code, message.refusal_reason = decision.code, decision.reason[:300]


def _touch_thread(thread: Thread, message: Message) -> None:
    """The thread's last activity and unread count, as conditional updates (two writers at once
    both count)."""
    changes = {"last_message_at": message.created_at or timezone.now()}
    if message.direction == Direction.INBOUND:
        changes["unread_by_staff"] = F("unread_by_staff") + 1
        changes["closed"] = False
    elif message.channel == Channel.PORTAL and message.status == Status.DELIVERED:
        changes["unread_by_patient"] = F("unread_by_patient") + 1
    Thread.objects.filter(pk=thread.pk).update(**changes)


def audit_actor(actor):
    """Who the log names: a system job by its name, anyone else as the chain records them."""
    return system_actor(actor.name) if isinstance(actor, SystemActor) else actor


def _record_outcome(message: Message, event: AuditEvent, actor, detail: dict, request=None) -> None:
    record(
        event, practice_id=message.practice_id, actor=audit_actor(actor), purpose=Purpose.OPERATIONS.value, subject_id=message.patient_id,
        resource_ids=[message.pk], detail={"channel": message.channel, "kind": message.kind, "topic": message.topic, **detail},
        request=request,
    )  # fmt: skip


def enqueue_delivery(message: Message) -> None:
    from confide.messaging.tasks import deliver_message

    task = deliver_message
    if message.send_after and task.get_backend().supports_defer:
        task = task.using(run_after=message.send_after)
    task.enqueue(str(message.pk), str(message.practice_id))


def receive_message(*, practice_id, patient_id, channel, body, link_id=None, actor=None, attachments=(), request=None) -> Message:
    """File an inbound message (a text matched to the patient, a portal message, an e-mail
    reply) in the patient's thread, sealed under their key inside the inbound job's opening.

    From the portal (`actor` a PatientActor) the chart is opened as that patient instead (for
    `patient_request`), so the door re-reads their portal link: an ended link, another record,
    another practice are refused before anything is written; a representative writes in their
    link's conversation only. `attachments`: checked uploads (messaging/attachments.py), stored
    encrypted in the same opening."""
    checked_channel = parse_channel(channel)
    text = clean_body(body, checked_channel if checked_channel != Channel.SMS else Channel.SMS)
    if isinstance(actor, PatientActor):
        if str(actor.practice_id) != str(practice_id) or str(actor.patient_id) != str(patient_id):
            raise Forbidden("A patient writes in their own conversation only.")
        link_id = actor.link_id if actor.representative else None
        opening = open_chart(actor, patient_id, Purpose.PATIENT_REQUEST, categories={policy.MESSAGES}, request=request, for_update=True)
        opener = actor
    else:
        job = MESSAGING_INBOUND_JOB.for_practice(practice_id)
        opening = open_chart(job, patient_id, Purpose.TREATMENT, categories=job.categories, request=request)
        opener = actor or job
    with opening as chart:
        conversation = thread_for(practice_id, chart.patient.pk, link_id)
        message = Message.objects.create(
            practice_id=practice_id, thread=conversation, patient_id=chart.patient.pk, direction=Direction.INBOUND,
            channel=checked_channel, kind=Kind.OPERATIONAL, topic=Topic.PATIENT_MESSAGE, status=Status.RECEIVED, body=text,
            author_id=getattr(actor, "user_id", None) if isinstance(actor, PatientActor) else None,
        )  # fmt: skip
        if attachments:
            from confide.messaging.attachments import store_attachment

            for clean in attachments:
                store_attachment(message, clean)
        _touch_thread(conversation, message)
        record(
            AuditEvent.MESSAGE_RECEIVED, practice_id=practice_id, actor=audit_actor(opener),
            purpose=(Purpose.PATIENT_REQUEST if isinstance(actor, PatientActor) else Purpose.TREATMENT).value,
            subject_id=chart.patient.pk, resource_ids=[message.pk, conversation.pk], categories=[policy.MESSAGES],
            detail={"channel": checked_channel.value} | ({"attachments": len(attachments)} if attachments else {}), request=request,
        )  # fmt: skip
    return message


def new_idempotency_key() -> str:
    return uuid.uuid4().hex
