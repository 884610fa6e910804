"""The send gate: every outbound message passes it, in this order, and each refusal names its
reason (ARCHITECTURE rule 8; MSG2, MSG3, MSG4, CON1, PRC1):

1. kind      — the topic's kind (operational or marketing) is the one claimed: a promotion can
               never travel as a reminder (MSG2);
2. consent   — marketing needs the opt-in for its channel; an operational text needs the
               patient's consent to texts (TCPA prior express consent, topic sms_texts); the
               patient's notification preferences for the channel (MSG6);
3. opt-out   — a number that said STOP, an address that unsubscribed (MSG3);
4. quiet     — SMS only in the recipient's allowed hours (federal 8:00–21:00, Florida and
               Oklahoma 8:00–20:00 and at most 3 per 24 h on one subject), else deferred;
5. content   — no photos and no payment details in e-mail or SMS (MSG4); an SMS or e-mail
               carries the body only if the patient asked for details by that channel, else a
               notice to sign in and read it (the body waits in the portal thread);
6. egress    — the processor behind the channel is declared, in use, for the purpose and the
               categories the message carries, with a BAA for PHI (PRC1);
7. rate      — per recipient per day and per practice per minute, else deferred.

A deferral by quiet hours still lets the content step speak: its refusal (a card number, a photo)
is final, so it is the answer at once rather than the next morning. The egress gate and the rate
limits run only for a message that may go now (the egress gate writes an audit entry).

`check(outgoing, final=...)` answers a `Decision`: send (with what the channel carries), defer
(until when), or refuse (a code and a sentence for staff). The send task runs it `final=True`
just before the provider call, so an opt-out recorded after queueing stops the send (MSG3:
before the next send); composing runs it `final=False` to tell staff at once, without the
egress gate's audit entry. Portal messages pass steps 1 and 5 only: they never leave the server.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from confide.core.purposes import Purpose
from confide.messaging.models import (
    RESPONSE_TOPICS,
    TOPIC_KIND,
    Channel,
    Kind,
    NotificationPreference,
    NotificationTopic,
    Topic,
)


@dataclass(frozen=True)
class Outgoing:
    """One message as the gate sees it. `to`, `address` and `body` are PHI: the caller decrypted
    them inside the chart door and they never leave this object for a log."""

    practice_id: uuid.UUID
    patient_id: uuid.UUID
    channel: str
    topic: str
    kind: str
    body: str
    to: str = ""  # E.164 number or e-mail address; "" for the portal
    address: dict | None = None  # the patient's postal address (its state gives the time zone)
    has_photo: bool = False
    has_attachment: bool = False
    subject_key: str = ""
    message_id: uuid.UUID | None = None
    processor_id: str = ""  # the adapter's processor on the egress gate (sms, email)
    # Written by a member of staff (Message.author): whatever its topic, its body is theirs, so
    # it travels by SMS or e-mail only to a patient who asked for details by that channel.
    by_staff: bool = False
    now: datetime.datetime | None = None

    def __repr__(self) -> str:
        return f"Outgoing(message={self.message_id}, channel={self.channel}, topic={self.topic})"


@dataclass(frozen=True)
class Decision:
    outcome: str  # "send" | "defer" | "refuse"
    code: str = ""
    reason: str = ""
    send_after: datetime.datetime | None = None
    carried: str = ""  # "body" | "notice" | "" (portal)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sends(self) -> bool:
        return self.outcome == "send"


def refuse(code: str, reason: str) -> Decision:
    return Decision("refuse", code, reason)


def defer(code: str, reason: str, until: datetime.datetime) -> Decision:
    return Decision("defer", code, reason, send_after=until)


# Which notification preference a topic answers to (MSG6); topics not here are not optional
# (a staff reply in the patient's own thread, security notices, replies to the patient's text).
PREFERENCE_OF: dict[str, str] = {
    Topic.NOTIFICATION: NotificationTopic.NEW_MESSAGES,
    Topic.REMINDER: NotificationTopic.REMINDERS,
    Topic.BILLING: NotificationTopic.BILLING,
    Topic.CAMPAIGN: NotificationTopic.NEWS,
}
NOTIFICATION_DEFAULTS = {Channel.PORTAL: True, Channel.SMS: True, Channel.EMAIL: True}


def check(out: Outgoing, *, final: bool, actor=None, request=None) -> Decision:
    """The gate, step by step; the first refusal or deferral is the answer."""
    now = out.now or timezone.now()
    for step in (_kind, _consent, _opt_out):
        decision = step(out, now)
        if decision is not None:
            return decision
    waiting = _quiet_hours(out, now)
    content = _content(out)
    if not content.sends:
        return content  # a refusal is final: a text that could never go is not held for the morning
    if waiting is not None:
        return waiting
    if final and out.channel != Channel.PORTAL:
        egress = _egress(out, content, actor=actor, request=request)
        if not egress.sends:
            return egress
        content = egress
    rate = _rate(out, now)
    return rate if rate is not None else content


# --- 1. kind ---------------------------------------------------------------------------------
def _kind(out: Outgoing, now) -> Decision | None:
    if out.topic not in TOPIC_KIND:
        return refuse("kind-unknown", "This kind of message is not one Confide sends.")
    if TOPIC_KIND[out.topic] != out.kind:
        return refuse("kind-mismatch", "A promotion cannot be sent as a message about care, nor the other way round.")
    return None


# --- 2. consent and preferences -----------------------------------------------------------------
def _consent(out: Outgoing, now) -> Decision | None:
    from confide.consent.services import has_consent

    if out.channel == Channel.PORTAL:
        # Operational portal messages always go (CON3: a refused marketing consent or a
        # withdrawn text consent never cuts the patient off from their practice); news in the
        # portal still needs a marketing opt-in, by either channel.
        if out.kind == Kind.MARKETING and not has_consent(out.practice_id, out.patient_id, Purpose.MARKETING):
            return refuse("consent-marketing", "The patient has not agreed to news and offers.")
        return _preference(out)
    if out.kind == Kind.MARKETING:
        if not has_consent(out.practice_id, out.patient_id, Purpose.MARKETING, channel=out.channel):
            return refuse("consent-marketing", f"The patient has not agreed to news and offers by {Channel(out.channel).label.lower()}.")
    elif out.channel == Channel.SMS and out.topic not in RESPONSE_TOPICS:
        if not has_consent(out.practice_id, out.patient_id, Purpose.OPERATIONS, channel=Channel.SMS):
            return refuse("consent-sms", "The patient has not agreed to text messages.")
    if not out.to:
        what = "mobile number" if out.channel == Channel.SMS else "e-mail address"
        return refuse("no-address", f"The chart has no {what} to send to.")
    return _preference(out)


def _preference(out: Outgoing) -> Decision | None:
    wanted = PREFERENCE_OF.get(out.topic)
    if wanted is None:
        return None
    row = NotificationPreference.objects.filter(practice_id=out.practice_id, patient_id=out.patient_id, topic=wanted).first()
    allowed = getattr(row, out.channel) if row is not None else NOTIFICATION_DEFAULTS[Channel(out.channel)]
    if not allowed:
        label = NotificationTopic(wanted).label.lower()
        return refuse("preference", f"The patient chose not to get {label} by {Channel(out.channel).label.lower()}.")
    return None


# --- 3. opt-out ------------------------------------------------------------------------------
def _opt_out(out: Outgoing, now) -> Decision | None:
    from confide.messaging.addresses import NotSearchable, email_blind, phone_blind
    from confide.messaging.models import EmailOptOut, PhoneOptOut

    try:
        if out.channel == Channel.SMS and out.topic != Topic.KEYWORD_REPLY:
            if PhoneOptOut.objects.filter(practice_id=out.practice_id, phone_blind=phone_blind(out.practice_id, out.to), opted_out=True).exists():
                return refuse("opted-out", "This number replied STOP: nothing more is texted to it until it replies START.")
        if out.channel == Channel.EMAIL and out.kind == Kind.MARKETING:
            if EmailOptOut.objects.filter(practice_id=out.practice_id, email_blind=email_blind(out.practice_id, out.to), opted_out=True).exists():
                return refuse("opted-out", "This address unsubscribed from news and offers.")
    except NotSearchable:
        return refuse("no-address", "The chart's contact detail is not a number or address that can be sent to.")
    return None


# --- 4. quiet hours --------------------------------------------------------------------------
def _quiet_hours(out: Outgoing, now) -> Decision | None:
    if out.channel != Channel.SMS or out.topic in RESPONSE_TOPICS or out.topic == Topic.SECURITY:
        return None
    from confide.messaging.quiet import next_allowed

    until, code, reason = next_allowed(out, now)
    return defer(code, reason, until) if until is not None else None


# --- 5. content ------------------------------------------------------------------------------
# A run of digits with single spaces or dashes between groups ("4111 1111-1111 1111").
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
# A payment word with a number close after it ("CVV 123", "card number: 4111…").
_CARD_WORDS = re.compile(
    r"\b(?:cvv2?|cvc2?|cid|card (?:number|no\.?|#)|security code|routing (?:number|no\.?)|account (?:number|no\.?)|iban)\b"
    r"\W{0,3}(?:is\W{1,3})?\d{3,}",
    re.IGNORECASE,
)

# Topics whose body Confide itself writes for the channel and which carry no clinical detail (a
# keyword's confirmation, the emergency reply, a sign-in alert, the new-message notice, a
# reminder's template, a campaign). Staff-written bodies never count as one (`by_staff`).
_CHANNEL_TEXT_TOPICS = frozenset({Topic.KEYWORD_REPLY, Topic.EMERGENCY_REPLY, Topic.SECURITY, Topic.NOTIFICATION,
                                  Topic.CAMPAIGN, Topic.REMINDER})  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for char in reversed(digits):
        n = int(char)
        if double:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
        double = not double
    return total % 10 == 0


def _card_numbers(text: str):
    """Every 13–19-digit stretch of whole digit groups in the text that passes the Luhn check:
    a card written "4111 1111 1111 1111", "4111-1111-1111-1111" or run together, even when
    another number follows it ("… 1111 exp 12 28" or "4111 1111 1111 1111 12")."""
    for run in _DIGIT_RUN.finditer(text):
        groups = re.split(r"[ -]", run.group())
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_ok(digits):
                    yield digits


def payment_details(text: str) -> bool:
    """A card number (13–19 digits passing the Luhn check) or a payment word with a number
    right after it ("CVV 123"). A phone number (10–11 digits) or a date never matches."""
    text = text or ""
    return any(True for _ in _card_numbers(text)) or bool(_CARD_WORDS.search(text))


def written_for_channel(out: Outgoing) -> bool:
    """Whether the body is one written for SMS or e-mail (no clinical detail in it): Confide's
    own texts, and a campaign (news and offers go to everyone who opted in, whoever wrote them;
    a "sign in to read it" notice in their place would mislead)."""
    return out.topic == Topic.CAMPAIGN or (out.topic in _CHANNEL_TEXT_TOPICS and not out.by_staff)


def _content(out: Outgoing) -> Decision:
    from confide.consent.services import has_consent

    if out.channel == Channel.PORTAL:
        return Decision("send", carried="")
    if out.has_photo:
        return refuse("content-photo", "Photos are never sent by e-mail or text; send them in the portal.")
    if payment_details(out.body):
        return refuse("content-payment", "Payment details are never sent by e-mail or text.")
    if written_for_channel(out):
        return Decision("send", carried="body")
    # phi_by_sms / phi_by_email: the patient asked for the details themselves by this channel.
    if has_consent(out.practice_id, out.patient_id, Purpose.TREATMENT, channel=out.channel):
        return Decision("send", carried="body")
    return Decision("send", carried="notice")


# --- 6. egress -------------------------------------------------------------------------------
_CONTACT = {Channel.SMS: "contact.phone", Channel.EMAIL: "contact.email"}
_PROCESSOR = {Channel.SMS: "sms", Channel.EMAIL: "email"}


def _egress(out: Outgoing, content: Decision, *, actor=None, request=None) -> Decision:
    """The egress gate for what the message carries. A body the processor may not receive falls
    back to the notice (the body stays in the portal thread); a refused notice is a refusal."""
    from confide.policy.egress import EgressRefused, check_egress

    details = content.carried == "body" and not written_for_channel(out)
    purpose = Purpose.MARKETING if out.kind == Kind.MARKETING else Purpose.TREATMENT if details else Purpose.OPERATIONS
    processor = out.processor_id or _PROCESSOR[Channel(out.channel)]
    categories = {_CONTACT[Channel(out.channel)]}
    if details:
        categories.add("communications.messages")
    if out.topic == Topic.REMINDER and not out.by_staff:
        # A reminder's own text names the appointment's date and time (issue 16): declared as such.
        categories.add("scheduling.appointments")
    try:
        check_egress(practice_id=out.practice_id, processor_id=processor, purpose=purpose, categories=categories,
                     actor=actor, subject_ids=[out.patient_id], request=request)  # fmt: skip
        return content
    except EgressRefused as exc:
        if "communications.messages" in categories:
            try:
                check_egress(practice_id=out.practice_id, processor_id=processor, purpose=Purpose.OPERATIONS,
                             categories={_CONTACT[Channel(out.channel)]}, actor=actor, subject_ids=[out.patient_id], request=request)  # fmt: skip
                return Decision("send", carried="notice", notes=(f"egress:{exc.code}",))
            except EgressRefused as again:
                exc = again
        return refuse("egress", f"The privacy declaration does not allow this to go to the {processor} processor ({exc.code}).")


# --- 7. rate limits ----------------------------------------------------------------------------
def _rate(out: Outgoing, now) -> Decision | None:
    if out.channel == Channel.PORTAL or out.topic in RESPONSE_TOPICS:
        return None
    from confide.messaging.quiet import rate_limit

    until, code, reason = rate_limit(out, now)
    return defer(code, reason, until) if until is not None else None
