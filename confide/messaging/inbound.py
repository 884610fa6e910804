"""Inbound texts and provider callbacks: what happens after the webhook's signature is checked.

    practice_for_number(to)                          the practice a number belongs to (MessagingSettings)
    handle_sms(practice_id=, sid=, from_number=, body=)   one inbound SMS, processed once per MessageSid
    handle_inbound_text(practice_id, patient_id, channel, body, *, link_id=None, actor=None, reply_to="")
                                                     a matched patient's text or portal message: filed,
                                                     checked for an emergency and for "stop texting me"
    record_status(practice_id=, sid=, status=, error_code="")   a delivery status callback (monotonic)

Order for an SMS (../shared/reference/rules-and-deadlines.md §3.1: keywords before anything else):
1. the MessageSid is consumed (InboundReceipt, unique per practice): a repeat does nothing;
2. the sender is matched by the phone blind index: one active patient, or the unmatched queue;
3. a keyword (STOP and its synonyms, START, HELP) is honoured and answered with its one reply
   (and, for a matched patient, filed in the thread so staff see it), and nothing else;
4. otherwise the text is filed; an emergency phrase gets the automatic 911/988 reply and flags the
   thread urgent (MSG5, whatever the hour, never blocked by consent; an opted-out number's reply is
   refused on record and the thread is still flagged); a free-text request to stop is honoured at
   once (opt-out and the ledger) and the thread flagged `opt-out-review` for staff to confirm.
All of it in one transaction with the receipt: a failure rolls the receipt back with the rest, so
Twilio's retry is processed, and two deliveries racing insert the receipt once.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import MESSAGING_SEND_JOB, open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.purposes import Purpose
from confide.core.tenancy import no_tenant, tenant_context
from confide.messaging import keywords
from confide.messaging.addresses import NotSearchable, e164, phone_blind
from confide.messaging.models import (
    DEFAULT_CRISIS_PHRASES,
    DEFAULT_CRISIS_REPLY,
    DEFAULT_EMERGENCY_PHRASES,
    DEFAULT_EMERGENCY_REPLY,
    STATUS_RANK,
    Channel,
    Delivery,
    InboundReceipt,
    Kind,
    Message,
    MessagingSettings,
    OptOutSource,
    PhoneOptOut,
    Status,
    Thread,
    Topic,
    UnmatchedInbound,
)

logger = logging.getLogger(__name__)

INBOUND_ACTOR = "messaging-inbound-job"
TEXT_TOPICS = ("sms_texts", "phi_by_sms", "marketing_sms")  # what STOP withdraws (all the texts' topics)


# --- the practice a number belongs to --------------------------------------------------------
def practice_for_number(number: str) -> uuid.UUID | None:
    """The practice whose SMS number is `number` (E.164), or None. Outside any practice: on
    PostgreSQL the row security admits this one row by the number the transaction names."""
    try:
        wanted = e164(number)
    except NotSearchable:
        return None
    with no_tenant(), transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('confide.sms_to', %s, true)", [wanted])
        return MessagingSettings.across_practices.filter(sms_number=wanted).values_list("practice_id", flat=True).first()


def settings_of(practice_id) -> MessagingSettings:
    """The practice's messaging settings (an unsaved default row when it has none)."""
    with tenant_context(practice_id=practice_id):
        return MessagingSettings.objects.filter().first() or MessagingSettings(practice_id=practice_id)


def set_sms_number(practice_id, number: str) -> MessagingSettings:
    """Give the practice its SMS number (E.164); the demo and the operator's setup use this."""
    value = e164(number) if number else ""
    with tenant_context(practice_id=practice_id), transaction.atomic():
        row, _ = MessagingSettings.objects.update_or_create(practice_id=practice_id, defaults={"sms_number": value})
    return row


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _consume(practice_id, hook: str, sid: str) -> bool:
    """Insert the receipt for `sid`; False when it was consumed already (a savepoint keeps the
    caller's transaction usable after the unique constraint refuses the second insert)."""
    try:
        with transaction.atomic():
            InboundReceipt.objects.create(practice_id=practice_id, hook=hook, sid_hash=sid_hash(sid), received_at=timezone.now())
        return True
    except IntegrityError:
        return False


# --- one inbound SMS -------------------------------------------------------------------------
@dataclass
class Outcome:
    """What an inbound text did, for the webhook's log line and the tests (ids and codes only)."""

    result: str  # replay | keyword | filed | unmatched
    keyword: str = ""
    patient_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    unmatched_id: uuid.UUID | None = None
    urgent: str = ""
    reply: str = ""  # the reply's status: queued, delivered, refused, sent, "" (none)
    answered: str = ""  # what a registered reply handler made of the text (e.g. "confirmed"), "" for nothing


def handle_sms(*, practice_id, sid: str, from_number: str, body: str, request=None) -> Outcome:
    practice_id = uuid.UUID(str(practice_id))
    sender = e164(from_number)  # the webhook checked it reads as a number
    with tenant_context(practice_id=practice_id), transaction.atomic():
        if not _consume(practice_id, "sms", sid):
            logger.info("inbound sms replayed: nothing done", extra={"practice_id": str(practice_id)})
            return Outcome("replay")
        candidates = _patients_with_number(practice_id, sender)
        patient_id = candidates[0] if len(candidates) == 1 else None
        kind = keywords.keyword(body)
        if kind is not None:
            return _answer_keyword(practice_id, kind, candidates, sender, body, sid, request)
        if patient_id is not None:
            return handle_inbound_text(practice_id, patient_id, Channel.SMS, body, reply_to=sender, reply_key=sid, request=request)
        return _unmatched(practice_id, sender, body, len(candidates), sid, request)


def _patients_with_number(practice_id, number: str) -> list[uuid.UUID]:
    from confide.records.models import Patient
    from confide.vault import blind_index, tombstones

    found = blind_index.search(practice_id, "phone", number)
    if not found:
        return []
    active = Patient.objects.filter(pk__in=found, is_active=True).values_list("pk", flat=True)
    return sorted((pk for pk in active if not tombstones.is_shredded(pk)), key=str)


# --- keywords (§3.1) ---------------------------------------------------------------------------
def _answer_keyword(practice_id, kind: str, candidates: list, sender: str, body: str, sid: str, request) -> Outcome:
    if kind == keywords.OPT_OUT:
        set_opt_out(practice_id, sender, opted_out=True, source=OptOutSource.KEYWORD, request=request)
        for patient_id in candidates:  # a shared number: every patient it belongs to stops getting texts
            withdraw_texts(practice_id, patient_id, request=request)
    elif kind == keywords.OPT_IN:
        set_opt_out(practice_id, sender, opted_out=False, source=OptOutSource.KEYWORD, request=request)
        if len(candidates) == 1:  # whose consent it is must be clear: one patient only
            grant_texts(practice_id, candidates[0], request=request)
    patient_id = candidates[0] if len(candidates) == 1 else None
    message_id = None
    if patient_id is not None:
        # Filed too, after it was honoured: a "YES" may answer a question staff asked, and a STOP
        # in the thread tells staff why texts stopped.
        from confide.messaging.services import receive_message

        message_id = receive_message(practice_id=practice_id, patient_id=patient_id, channel=Channel.SMS, body=body, request=request).pk
    reply = reply_text(practice_id, kind)
    status = send_reply(practice_id, patient_id, sender, reply, Topic.KEYWORD_REPLY, key=f"kw-{sid_hash(sid)[:40]}", request=request)
    record(
        AuditEvent.KEYWORD_RECEIVED, practice_id=practice_id, actor=system_actor(INBOUND_ACTOR), purpose=Purpose.OPERATIONS.value,
        subject_id=patient_id, detail={"keyword": kind, "matched": len(candidates), "reply": status}, request=request,
    )  # fmt: skip
    logger.info("inbound keyword %s answered (%s)", kind, status)
    return Outcome("keyword", keyword=kind, patient_id=patient_id, message_id=message_id, reply=status)


def set_opt_out(practice_id, number: str, *, opted_out: bool, source: str, request=None) -> None:
    """The number's opt-out state, as one row per number (two writers at once: one insert wins,
    the other updates it)."""
    now = timezone.now()
    with tenant_context(practice_id=practice_id):
        blind = phone_blind(practice_id, number)
        try:
            with transaction.atomic():
                PhoneOptOut.objects.update_or_create(practice_id=practice_id, phone_blind=blind,
                                                     defaults={"opted_out": opted_out, "source": source, "changed_at": now})  # fmt: skip
        except IntegrityError:
            PhoneOptOut.objects.filter(phone_blind=blind).update(opted_out=opted_out, source=source, changed_at=now)
        record(
            AuditEvent.OPT_OUT_CHANGED, practice_id=practice_id, actor=system_actor(INBOUND_ACTOR), purpose=Purpose.OPERATIONS.value,
            detail={"channel": Channel.SMS.value, "opted_out": opted_out, "source": str(source)}, request=request,
        )  # fmt: skip


def is_opted_out(practice_id, number: str) -> bool:
    with tenant_context(practice_id=practice_id):
        return PhoneOptOut.objects.filter(phone_blind=phone_blind(practice_id, number), opted_out=True).exists()


_STOP_TEXT = "You replied to stop text messages from us; you will get no more texts from this number. Reply START to get them again."
_START_TEXT = "You agreed to text messages about your care. Reply HELP for help, STOP to stop them."


def withdraw_texts(practice_id, patient_id, *, request=None) -> list[str]:
    """The ledger: every texts topic the patient has granted, withdrawn by their text (only what
    is granted can be withdrawn). Answers the topics withdrawn."""
    from confide.consent import services as consent
    from confide.consent.actors import TextSenderActor

    subject = consent.Subject.patient(practice_id, patient_id)
    actor = TextSenderActor(practice_id=subject.practice_id, patient_id=uuid.UUID(str(patient_id)))
    done = []
    for topic in TEXT_TOPICS:
        if consent.state(subject, topic).granted:
            consent.do_withdraw(actor=actor, subject=subject, topic=topic, channel="sms", method="sms_keyword",
                                shown_text=_STOP_TEXT, request=None)  # fmt: skip
            done.append(topic)
    return done


def grant_texts(practice_id, patient_id, *, request=None) -> bool:
    from confide.consent import services as consent
    from confide.consent.actors import TextSenderActor

    subject = consent.Subject.patient(practice_id, patient_id)
    if consent.state(subject, "sms_texts").granted:
        return False
    actor = TextSenderActor(practice_id=subject.practice_id, patient_id=uuid.UUID(str(patient_id)))
    consent.do_grant(actor=actor, subject=subject, topic="sms_texts", channel="sms", method="sms_keyword", shown_text=_START_TEXT)
    return True


def _practice_name(practice_id) -> str:
    from confide.core.models import Practice

    return Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "Your practice"


def help_contact(practice_id) -> str:
    """Where a HELP reply sends people: the practice's own setting, else the privacy officer's
    phone or e-mail from the declaration in force, else the practice's texting number."""
    settings_row = settings_of(practice_id)
    if settings_row.help_contact:
        return settings_row.help_contact
    try:
        from confide.policy.services import declaration_of, version_in_force

        officer = declaration_of(version_in_force(practice_id)).contacts.privacy_officer
        if officer.phone or officer.email:
            return f"call {officer.phone}" if officer.phone else f"e-mail {officer.email}"
    except Exception:  # noqa: BLE001 - a practice without a declaration still answers HELP
        logger.warning("help contact: no declaration in force", extra={"practice_id": str(practice_id)})
    return f"call {settings_row.sms_number}" if settings_row.sms_number else "contact the practice"


def reply_text(practice_id, kind: str) -> str:
    """The one reply a keyword allows (Twilio's wording, with the practice's name; no marketing)."""
    name = _practice_name(practice_id)
    if kind == keywords.OPT_OUT:
        return f"{name}: You are unsubscribed and will get no more texts from this number. Reply START to resubscribe."
    if kind == keywords.OPT_IN:
        return (f"{name}: You are resubscribed to texts about your care. Msg frequency varies. "
                "Msg & data rates may apply. Reply HELP for help, STOP to unsubscribe.")  # fmt: skip
    # "HELP" may be a call for help: the 911 line comes first (MSG5), then what CTIA asks for.
    return (f"{name}: In an emergency call 911. For help, {help_contact(practice_id)}. Msg frequency varies. "
            "Msg & data rates may apply. Reply STOP to unsubscribe.")  # fmt: skip


# --- replies ---------------------------------------------------------------------------------
def send_reply(practice_id, patient_id, to: str, text: str, topic: str, *, key: str, request=None) -> str:
    """An automatic reply to the number that texted. Through `send_message` (the gate, the
    thread, the delivery task) when that number is the patient's chart number; otherwise (no
    patient, several, or the patient's other number) straight to the adapter once the
    transaction commits, recorded by ids, with the opt-out and egress checks the gate would make."""
    if patient_id is not None and _chart_number(practice_id, patient_id) == to:
        from confide.messaging.services import send_message

        message = send_message(MESSAGING_SEND_JOB.for_practice(practice_id), patient_id=patient_id, channel=Channel.SMS, topic=topic, body=text)
        return message.status
    return _send_direct(practice_id, to, text, topic, key=key, request=request)


def _chart_number(practice_id, patient_id, actor=None, request=None) -> str:
    """The patient's chart number in E.164, read by `actor` (the messaging job by default)."""
    opener = actor or MESSAGING_SEND_JOB.for_practice(practice_id)
    with open_chart(opener, patient_id, Purpose.OPERATIONS, categories={policy.PHONE}, request=request) as chart:
        try:
            return e164(chart.patient.phone or "")
        except NotSearchable:
            return ""


def _send_direct(practice_id, to: str, text: str, topic: str, *, key: str, request=None) -> str:
    from confide.messaging.adapters import OutboundSMS, ProviderError, sms_adapter
    from confide.policy.egress import EgressRefused, check_egress

    job = MESSAGING_SEND_JOB.for_practice(practice_id)
    if topic != Topic.KEYWORD_REPLY and is_opted_out(practice_id, to):
        return Status.REFUSED.value
    adapter = sms_adapter()
    try:
        check_egress(practice_id=practice_id, processor_id=getattr(adapter, "processor_id", "sms"), purpose=Purpose.OPERATIONS,
                     categories={policy.PHONE}, actor=job, request=request)  # fmt: skip
    except EgressRefused:
        return Status.REFUSED.value
    sms = OutboundSMS(practice_id=practice_id, message_id=None, patient_id=None, to=to, body=text, kind=Kind.OPERATIONAL, idempotency_key=key)

    def send() -> None:
        try:
            result = adapter.send(sms)
        except ProviderError as exc:
            logger.warning("direct reply %s failed: provider error %s", key, exc.code)
            return
        logger.info("direct reply sent", extra={"provider_ref": result.provider_ref})

    transaction.on_commit(send, robust=True)
    return Status.QUEUED.value


# --- a matched patient's text or portal message --------------------------------------------
def handle_inbound_text(practice_id, patient_id, channel, body, *, link_id=None, actor=None, reply_to: str = "",
                        reply_key: str = "", attachments=(), request=None) -> Outcome:  # fmt: skip
    """File a patient's inbound text or portal message in their thread, then apply the emergency
    rule (MSG5) and the free-text revocation rule (§3.3). For the portal's messages tab:
    `handle_inbound_text(practice_id, patient_id, "portal", body, link_id=…, actor=patient_actor)`.
    `reply_to` is the number an SMS came from (the reply goes there); empty for the portal."""
    with tenant_context(practice_id=uuid.UUID(str(practice_id))):
        return _handle_inbound_text(uuid.UUID(str(practice_id)), patient_id, Channel(str(channel)), body, link_id=link_id, actor=actor,
                                    reply_to=reply_to, reply_key=reply_key, attachments=attachments, request=request)  # fmt: skip


def _handle_inbound_text(practice_id, patient_id, channel, body, *, link_id, actor, reply_to, reply_key, attachments=(),
                         request=None) -> Outcome:  # fmt: skip
    from confide.messaging.services import receive_message

    message = receive_message(practice_id=practice_id, patient_id=patient_id, channel=channel, body=body, link_id=link_id,
                              actor=actor, attachments=attachments, request=request)  # fmt: skip
    outcome = Outcome("filed", patient_id=message.patient_id, message_id=message.pk)
    conf = settings_of(practice_id)
    urgent = emergency_of(conf, body)
    if urgent:
        text = emergency_reply_text(practice_id, conf, urgent)
        if channel == Channel.SMS:
            outcome.reply = send_reply(practice_id, message.patient_id, reply_to, text, Topic.EMERGENCY_REPLY,
                                       key=f"em-{sid_hash(reply_key or str(message.pk))[:40]}", request=request)  # fmt: skip
        else:
            outcome.reply = _portal_reply(practice_id, message, text)
        flag_thread(message, urgent, detail={"reply": outcome.reply}, request=request)
        outcome.urgent = urgent
    if channel == Channel.SMS and keywords.asks_to_stop(body):
        set_opt_out(practice_id, reply_to, opted_out=True, source=OptOutSource.FREE_TEXT, request=request)
        withdraw_texts(practice_id, message.patient_id, request=request)
        send_reply(practice_id, message.patient_id, reply_to, reply_text(practice_id, keywords.OPT_OUT), Topic.KEYWORD_REPLY,
                   key=f"ft-{sid_hash(reply_key or str(message.pk))[:40]}", request=request)  # fmt: skip
        if not urgent:
            flag_thread(message, "opt-out-review", request=request)
            outcome.urgent = "opt-out-review"
    elif channel == Channel.SMS and not urgent:
        # Last: an answer to something an app above sent (a reminder's C or R). Keywords were
        # honoured before this function; an emergency or a request to stop is never an answer.
        for handler in REPLY_HANDLERS:
            answered = handler(practice_id=practice_id, patient_id=message.patient_id, body=body, message=message,
                               reply_to=reply_to, request=request)  # fmt: skip
            if answered:
                outcome.answered = answered
                break
    return outcome


# --- answers handled by apps above messaging ---------------------------------------------------
# Messaging is below scheduling and never imports it: an app above registers a handler in its
# AppConfig.ready (scheduling: "C" confirms, "R" asks to reschedule, confide/scheduling/reminders.py).
# A handler is called for a matched patient's text that is not a keyword, not an emergency and not
# a request to stop, after it was filed in the thread, inside the inbound transaction:
#     handler(*, practice_id, patient_id, body, message, reply_to, request) -> str  ("" = not mine)
REPLY_HANDLERS: list = []


def register_reply_handler(handler) -> None:
    """Add `handler` once (AppConfig.ready may run more than once in tests)."""
    if handler not in REPLY_HANDLERS:
        REPLY_HANDLERS.append(handler)


def _portal_reply(practice_id, message: Message, text: str) -> str:
    from confide.messaging.services import send_message

    thread = Thread.objects.get(pk=message.thread_id)
    reply = send_message(MESSAGING_SEND_JOB.for_practice(practice_id), patient_id=message.patient_id, channel=Channel.PORTAL,
                         topic=Topic.EMERGENCY_REPLY, body=text, thread=thread)  # fmt: skip
    return reply.status


def emergency_of(conf: MessagingSettings, body: str) -> str | None:
    own = keywords.parse_phrases(conf.emergency_phrases)
    return keywords.emergency(body, [*DEFAULT_EMERGENCY_PHRASES, *own], DEFAULT_CRISIS_PHRASES)


def emergency_reply_text(practice_id, conf: MessagingSettings, urgent: str) -> str:
    text = f"{_practice_name(practice_id)}: {conf.emergency_reply or DEFAULT_EMERGENCY_REPLY}"
    if urgent == "crisis":
        text += f" {conf.crisis_reply or DEFAULT_CRISIS_REPLY}"
    return text


def flag_thread(message: Message, reason: str, *, detail: dict | None = None, request=None) -> None:
    """The thread flagged for staff. An emergency is never replaced by a lesser reason."""
    with tenant_context(practice_id=message.practice_id):
        rows = Thread.objects.filter(pk=message.thread_id)
        if reason not in ("emergency", "crisis"):  # opt-out-review, reschedule: never hide an emergency
            rows = rows.exclude(urgent_reason__in=["emergency", "crisis"])
        rows.update(urgent=True, urgent_reason=reason)
        record(
            AuditEvent.THREAD_FLAGGED, practice_id=message.practice_id, actor=system_actor(INBOUND_ACTOR), purpose=Purpose.TREATMENT.value,
            subject_id=message.patient_id, resource_ids=[message.thread_id, message.pk], detail={"reason": reason, **(detail or {})},
            request=request,
        )  # fmt: skip


# --- the unmatched queue ------------------------------------------------------------------
def _unmatched(practice_id, sender: str, body: str, candidates: int, sid: str, request) -> Outcome:
    from confide.messaging.services import clean_body
    from confide.vault.allowance import allow

    text = clean_body(body, Channel.SMS)
    conf = settings_of(practice_id)
    urgent = emergency_of(conf, text) or ""
    row = UnmatchedInbound(practice_id=practice_id, from_blind=phone_blind(practice_id, sender), candidates=candidates,
                           received_at=timezone.now(), urgent_reason=urgent)  # fmt: skip
    with allow({policy.PHONE, policy.MESSAGES}, subjects={row.pk}):
        row.from_number = sender
        row.body = text
        row.save()
    outcome = Outcome("unmatched", unmatched_id=row.pk, urgent=urgent)
    if urgent:
        outcome.reply = _send_direct(practice_id, sender, emergency_reply_text(practice_id, conf, urgent), Topic.EMERGENCY_REPLY,
                                     key=f"em-{sid_hash(sid)[:40]}", request=request)  # fmt: skip
    if keywords.asks_to_stop(text):
        set_opt_out(practice_id, sender, opted_out=True, source=OptOutSource.FREE_TEXT, request=request)
        _send_direct(practice_id, sender, reply_text(practice_id, keywords.OPT_OUT), Topic.KEYWORD_REPLY, key=f"ft-{sid_hash(sid)[:40]}", request=request)
        if not urgent:
            UnmatchedInbound.objects.filter(pk=row.pk).update(urgent_reason="opt-out-review")
            outcome.urgent = "opt-out-review"
    record(
        AuditEvent.UNMATCHED_RECEIVED, practice_id=practice_id, actor=system_actor(INBOUND_ACTOR), purpose=Purpose.TREATMENT.value,
        resource_ids=[row.pk], detail={"candidates": candidates, "urgent": outcome.urgent, "reply": outcome.reply}, request=request,
    )  # fmt: skip
    return outcome


# --- delivery status callbacks (§3.5) ---------------------------------------------------------
TWILIO_STATUS = {
    "accepted": Status.QUEUED, "scheduled": Status.QUEUED, "queued": Status.QUEUED, "sending": Status.SENDING,
    "sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.DELIVERED, "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED, "canceled": Status.FAILED,
}  # fmt: skip
_STAMP = {Status.SENT: "sent_at", Status.DELIVERED: "delivered_at", Status.UNDELIVERED: "failed_at", Status.FAILED: "failed_at"}


def record_status(*, practice_id, sid: str, status: str, error_code: str = "", request=None) -> str:
    """Move the delivery (and its message) forward to `status`; never back (callbacks arrive out
    of order): a status of lower or equal rank than the current one changes nothing. Answers
    what happened: updated, stale, unknown-sid, unknown-status."""
    new = TWILIO_STATUS.get(str(status).lower())
    if new is None:
        return "unknown-status"
    rank = STATUS_RANK[new]
    lower = [s for s, r in STATUS_RANK.items() if r < rank]
    now = timezone.now()
    with tenant_context(practice_id=practice_id), transaction.atomic():
        delivery = Delivery.objects.filter(provider_ref=sid[:64]).first()
        if delivery is None:
            return "unknown-sid"
        changes = {"status": new, "updated_at": now}
        if new in _STAMP:
            changes[_STAMP[new]] = now
        if error_code and new in (Status.FAILED, Status.UNDELIVERED):
            changes["error_code"] = str(error_code)[:16]
        if not Delivery.objects.filter(pk=delivery.pk, status__in=lower).update(**changes):
            return "stale"
        delivery.refresh_from_db(fields=["history"])
        Delivery.objects.filter(pk=delivery.pk).update(history=[*delivery.history, [new.value, now.isoformat()]])
        Message.objects.filter(pk=delivery.message_id, status__in=[*lower, Status.SENDING]).exclude(status=new).update(status=new)
        if new in (Status.FAILED, Status.UNDELIVERED):
            message = Message.objects.get(pk=delivery.message_id)
            Message.objects.filter(pk=message.pk).update(refusal_code=f"provider-{error_code or new.value}"[:32],
                                                         refusal_reason="The carrier could not deliver this text.")  # fmt: skip
            record(
                AuditEvent.MESSAGE_FAILED, practice_id=practice_id, actor=system_actor(INBOUND_ACTOR), purpose=Purpose.OPERATIONS.value,
                subject_id=message.patient_id, resource_ids=[message.pk],
                detail={"channel": message.channel, "kind": message.kind, "topic": message.topic, "code": str(error_code or new.value)[:16]},
                request=request,
            )  # fmt: skip
    return "updated"


# --- staff: confirming a free-text opt-out ------------------------------------------------------
def do_review_opt_out(*, actor, thread_id, keep: bool, request=None) -> None:
    """Staff answer an `opt-out-review` flag after speaking to the patient. keep=True: the opt-out
    stands (the flag is cleared). keep=False: it was misread — the patient's chart number is no
    longer opted out (source `staff`) and the flag is cleared; their consent to texts is recorded
    again on the consent page, as what the patient said (the ledger takes no undo)."""
    from confide.core.actors import StaffActor
    from confide.core.errors import Forbidden, InvalidInput, NotFound
    from confide.core.permissions import Perm

    if not isinstance(actor, StaffActor) or not actor.has(Perm.MESSAGES_SEND):
        raise Forbidden(Perm.MESSAGES_SEND)
    # The thread's row is locked for the answer: two staff answering at once give one answer
    # (the second finds no flag waiting), never two opt-out changes and two audit entries.
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        thread = Thread.objects.select_for_update().filter(pk=thread_id, practice_id=actor.practice_id).first()
        if thread is None:
            raise NotFound("conversation")
        if thread.urgent_reason != "opt-out-review":
            raise InvalidInput("This conversation has no request to stop texts waiting for review.")
        if not keep:
            number = _chart_number(actor.practice_id, thread.patient_id, actor=actor, request=request)
            if number:
                set_opt_out(actor.practice_id, number, opted_out=False, source=OptOutSource.STAFF, request=request)
        Thread.objects.filter(pk=thread.pk, urgent_reason="opt-out-review").update(urgent=False, urgent_reason="")
        record(
            AuditEvent.THREAD_FLAGGED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
            subject_id=thread.patient_id, resource_ids=[thread.pk], detail={"reason": "opt-out-reviewed", "kept": keep}, request=request,
        )  # fmt: skip
