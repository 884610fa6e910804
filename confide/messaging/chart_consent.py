"""What the patient agreed to about messages, as the front desk sees and records it (CON1).

The chart's "Messages and notifications" page lists the five messaging consent topics with their
state in words, read from the ledger (`confide.consent.services.current_states`: the projection,
one query), and lets staff with `consent:patient:record` record a choice the patient made by phone
or on a signed paper form. Recording is the consent service's `do_choose`: it authorizes, checks
the transition (withdrawing what is not granted is refused), keeps the SHA-256 of the exact words
read or shown, names the staff member as `recorded_by`, and writes the `consent:*` audit entry
with codes only. This module adds what the desk needs around it:

    consent_rows(practice_id, patient_id, *, practice_name, phone, email) -> [ConsentRow]
    do_record(actor, patient_id, *, topic, action, how, words, seen, request) -> ConsentEvent
    texts_agreed(practice_id, patient_id) -> bool        (the inbox's hint: one read)

A form carries `seen`, the ledger event it was drawn from (empty: none). If the topic's latest
event is another one by the time it is posted — the patient texted STOP, a colleague recorded
something — the choice is refused as stale (`StaleChoice`) and nothing is written; the check
runs under the (subject, topic) row lock the ledger itself takes, so it cannot race an append.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from confide.consent import locks
from confide.consent import services as consent
from confide.consent.models import ConsentEvent
from confide.consent.state import TopicState
from confide.consent.topics import Action, Method, SubjectKind, Topic
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context

# The topics of this page, in the order the desk asks them, with the words the page uses.
TOPICS: dict[Topic, str] = {
    Topic.SMS_TEXTS: "Text messages about their care",
    Topic.PHI_BY_SMS: "Health details by text message",
    Topic.PHI_BY_EMAIL: "Health details by e-mail",
    Topic.MARKETING_SMS: "News and offers by text message",
    Topic.MARKETING_EMAIL: "News and offers by e-mail",
}
# How the patient told us: the form's value -> the ledger's method and channel.
HOW: dict[str, tuple[Method, str, str]] = {
    "phone": (Method.STAFF_PHONE, "phone", "By phone"),
    "paper": (Method.STAFF_PAPER, "paper", "On a signed paper form"),
}
ACTIONS = (Action.GRANT.value, Action.WITHDRAW.value)
_METHOD_WORDS = {
    Method.STAFF_PHONE: "by phone",
    Method.STAFF_PAPER: "on a signed paper form",
    Method.FORM_BUTTON: "in the portal",
    Method.SMS_KEYWORD: "by text message",
    Method.IMPORT: "imported from another system",
    Method.UNSUBSCRIBE_LINK: "with the unsubscribe link of an e-mail",
}


class StaleChoice(InvalidInput):
    """The form was drawn from an older state of the ledger: nothing is recorded."""


@dataclass(frozen=True)
class ConsentRow:
    topic: str
    label: str
    granted: bool
    words: str  # "Agreed on 3 Dec 2026 by phone, recorded by Dana Desk", "Not agreed", "Withdrawn on …"
    seen: str  # the latest event's id, for the form's stale check ("" for none)
    action: str  # what the form offers: grant when not granted, withdraw when granted
    script: str  # the default words to read or show


def scripts(practice_name: str, phone: str, email: str) -> dict[Topic, dict[str, str]]:
    """The default words per topic and action: TCPA-style disclosures a person can read aloud."""
    at_phone = f"at {phone}" if phone else "at the number you give us"
    at_email = f"at {email}" if email else "at the e-mail address you give us"
    optional = "Agreeing is not a condition of care."
    grant = {
        Topic.SMS_TEXTS: f"You agree that {practice_name} may text you {at_phone} about appointments and your care. "
        f"Msg & data rates may apply. Reply STOP to stop at any time, HELP for help. {optional}",
        Topic.PHI_BY_SMS: f"You ask {practice_name} to text the details of your care (such as appointment details and results) "
        f"to you {at_phone}, instead of a notice to sign in to the portal. Texts are not encrypted: anyone who sees your phone "
        f"may read them. You can change this at any time. {optional}",
        Topic.PHI_BY_EMAIL: f"You ask {practice_name} to e-mail the details of your care (such as appointment details and results) "
        f"to you {at_email}, instead of a notice to sign in to the portal. E-mail may not be encrypted: anyone who can read your "
        f"mailbox may read them. You can change this at any time. {optional}",
        Topic.MARKETING_SMS: f"You agree that {practice_name} may text you news and offers {at_phone}. Msg & data rates may apply. "
        f"Reply STOP to stop at any time. Agreeing is not a condition of care or of any purchase.",
        Topic.MARKETING_EMAIL: f"You agree that {practice_name} may e-mail you news and offers {at_email}. Every e-mail has a link "
        f"to unsubscribe. Agreeing is not a condition of care or of any purchase.",
    }
    out = {}
    for topic, label in TOPICS.items():
        stop = f"You asked {practice_name} to stop: {label.lower().replace('their care', 'your care')}. We have recorded it. You can agree again at any time."
        out[topic] = {Action.GRANT.value: grant[topic], Action.WITHDRAW.value: stop}
    return out


def _date(when) -> str:
    local = timezone.localtime(when)
    return f"{local.day} {local:%b %Y}"


def _words(state: TopicState, event: dict | None, names: dict[int, str]) -> str:
    if not state.answered:
        return "Not agreed"
    how = _METHOD_WORDS.get(state.last_method, "")
    by = ""
    if event and event.get("recorded_by_id"):
        by = f", recorded by {names.get(event['recorded_by_id'], 'a former staff member')}"
    verb = {"grant": "Agreed", "withdraw": "Withdrawn", "decline": "Said no"}.get(state.last_action, "Changed")
    return f"{verb} on {_date(state.last_at)}{' ' + how if how else ''}{by}"


def consent_rows(practice_id, patient_id, *, phone: str = "", email: str = "") -> list[ConsentRow]:
    """The five messaging topics, each with its state in words: the projection, the latest
    events' recorders and their names, the practice's name (for the scripts)."""
    from confide.accounts.models import User
    from confide.core.models import Practice

    practice_name = Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "our practice"

    states = consent.current_states(consent.Subject.patient(practice_id, patient_id))
    wanted = [states[t].last_event_id for t in TOPICS if states[t].last_event_id]
    with tenant_context(practice_id=practice_id):
        events = {row["id"]: row for row in ConsentEvent.objects.filter(pk__in=wanted).values("id", "recorded_by_id")}
    names = dict(User.objects.filter(pk__in={e["recorded_by_id"] for e in events.values() if e["recorded_by_id"]}).values_list("pk", "display_name"))
    texts = scripts(practice_name, phone, email)
    rows = []
    for topic, label in TOPICS.items():
        state = states[topic]
        action = Action.WITHDRAW.value if state.granted else Action.GRANT.value
        rows.append(
            ConsentRow(
                topic=topic.value, label=label, granted=state.granted, words=_words(state, events.get(state.last_event_id), names),
                seen=str(state.last_event_id or ""), action=action, script=texts[topic][action],
            )  # fmt: skip
        )
    return rows


def _parse(topic, action, how, words) -> tuple[Topic, str, Method, str, str]:
    topic = str(topic or "")[:40]
    if topic not in {t.value for t in TOPICS}:
        raise InvalidInput(f"{topic!r} is not one of the choices on this page: {', '.join(TOPICS.values()).lower()}.")
    action = str(action or "")[:20]
    if action not in ACTIONS:
        raise InvalidInput("Record that the patient agreed, or that they withdrew their agreement.")
    how = str(how or "")[:20]
    if how not in HOW:
        raise InvalidInput("Say how the patient told you: by phone, or on a signed paper form.")
    if not isinstance(words, str) or not words.strip():
        raise InvalidInput("Enter the exact words you read or showed to the patient: they are the evidence of what they agreed to.")
    if len(words) > consent.SHOWN_TEXT_MAX:
        raise InvalidInput(f"The words are limited to {consent.SHOWN_TEXT_MAX} characters.")
    if "\x00" in words:
        raise InvalidInput("The words contain a character that cannot be kept; type them again.")
    method, channel, _label = HOW[how]
    return Topic(topic), action, method, channel, words


def do_record(actor, patient_id, *, topic, action, how, words, seen, request=None) -> ConsentEvent:
    """Record a choice the patient made by phone or on paper, if the form is not stale."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.CONSENT_RECORD):
        raise Forbidden(Perm.CONSENT_RECORD)
    try:
        patient_uuid = uuid.UUID(str(patient_id))
    except ValueError:
        raise NotFound("patient") from None
    from confide.records.models import Patient

    with tenant_context(practice_id=actor.practice_id):
        if not Patient.objects.filter(pk=patient_uuid, practice_id=actor.practice_id, is_active=True).exists():
            raise NotFound("patient")
    checked_topic, action, method, channel, words = _parse(topic, action, how, words)
    subject = consent.Subject.patient(actor.practice_id, patient_uuid)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        row = locks.lock_state(actor.practice_id, SubjectKind.PATIENT.value, subject.id, checked_topic.value)
        if str(row.last_event_id or "") != str(seen or "")[:40]:
            raise StaleChoice(
                f"{TOPICS[checked_topic]}: the patient's choice changed after this page was opened. "
                "Nothing was recorded; check what it is now and record again if needed."
            )
        if action == Action.GRANT.value and row.granted:
            raise InvalidInput(f"{TOPICS[checked_topic]}: the patient has already agreed. Nothing was recorded.")
        return consent.do_choose(
            action=action, actor=actor, subject=subject, topic=checked_topic, channel=channel, method=method, shown_text=words, request=request
        )


def texts_agreed(practice_id, patient_id) -> bool:
    """Whether the patient agrees to texts about their care now: one read of the ledger."""
    return consent.state(consent.Subject.patient(practice_id, patient_id), Topic.SMS_TEXTS).granted
