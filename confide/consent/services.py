"""Consent services: the only code that appends to the ledger or answers from it.

    do_grant(actor=…, subject=…, topic=…, channel=…, method=…, shown_text=…)     a choice, appended
    do_withdraw(…)                                                               only what is granted
    do_decline(…)                                                                asked, and said no
    state(subject, topic, at=None)                                               the fold of the events
    has_consent(practice_id, patient_id, purpose, channel=None)                  does a grant cover it?
    missing_consent(practice_id, patient_id, purpose, categories)                what the chart door asks
    rebuild_projection(practice_id, write=True)                                  `confide consent rebuild`

Every append runs in one transaction: the (subject, topic) projection row is locked, the state
re-derived from the events, the transition checked (withdrawing what is not granted is an
`InvalidInput`, and nothing is written), the event inserted with its evidence, the projection
rewritten from the events, and the audit entry (`consent:granted`, `consent:withdrawn`,
`consent:declined`, or `consent:signal-recorded` for a browser signal) appended — ids and codes
only. Unknown topics, channels, methods or purposes are an `InvalidInput` naming the choices.

Who may record what (`_authorize`): a visitor, for their own visitor id, with a button or a
browser signal; a patient, for themselves, with a button; staff, for a patient of their
practice (permission `consent:patient:record`) by phone, paper or import — the staff member is
recorded as `recorded_by` — or for themselves. Anything else is `Forbidden`.

A patient acting from a browser leaves evidence (IP address, user agent) that is PHI: it is
written encrypted under the patient's key, never into the event row (TRK1), and only inside the
chart door opened for it as the registered system job `consent-evidence` (its own
`records:chart:opened` entry). The ledger sits below the door, so the door is opened above it:
`confide.access.consent.do_patient_choice` (check here, open the door, append here).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone

from confide.core.purposes import Purpose
from confide.core.subjects import patient_model
from confide.audit.chain import AuditActor, patient_audit_actor, record
from confide.audit.events import AuditEvent
from confide.consent import locks
from confide.consent.actors import OPT_OUT_TOPIC_VALUES, ApplicantActor, PatientActor, RightsRequestActor, TextSenderActor, VisitorActor
from confide.consent.evidence import browser_family, network_prefix, text_sha256
from confide.consent.models import ConsentEvent, ConsentEvidence, ConsentState
from confide.consent.state import STATE_FIELDS, TopicState, as_row, fold
from confide.consent.topics import (
    MARKETING_CHANNEL_TOPICS,
    SIGNAL_METHODS,
    STAFF_METHODS,
    TOPICS,
    Action,
    Channel,
    Method,
    SubjectKind,
    Topic,
    parse_channel,
    parse_method,
    parse_purpose,
    parse_topic,
    topics_for,
)
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.http import client_ip
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.vault.allowance import current as current_allowance
from confide.vault.fields import encrypted_fields

logger = logging.getLogger(__name__)

CONSENT_CATEGORY = "preferences.consent"
SHOWN_TEXT_MAX = 5000
SCOPE_MAX = 64
_AUDIT_EVENTS = {Action.GRANT: AuditEvent.CONSENT_GRANTED, Action.WITHDRAW: AuditEvent.CONSENT_WITHDRAWN, Action.DECLINE: AuditEvent.CONSENT_DECLINED}
# Where a choice can be made, by method (a phone call is not made through the cookie banner).
_CHANNELS_BY_METHOD: dict[Method, frozenset[Channel]] = {
    Method.FORM_BUTTON: frozenset({Channel.COOKIE, Channel.WEB, Channel.PORTAL, Channel.EMAIL, Channel.SMS}),
    Method.STAFF_PHONE: frozenset({Channel.PHONE}),
    Method.STAFF_PAPER: frozenset({Channel.PAPER, Channel.IN_PERSON}),
    Method.SMS_KEYWORD: frozenset({Channel.SMS}),
    Method.GPC_HEADER: frozenset({Channel.COOKIE}),
    Method.DNT_HEADER: frozenset({Channel.COOKIE}),
    Method.IMPORT: frozenset(Channel),
    Method.UNSUBSCRIBE_LINK: frozenset({Channel.EMAIL}),
}


@dataclass(frozen=True)
class Subject:
    """Whose consent: a patient, a visitor (their cookie's id) or a staff member, in one practice."""

    practice_id: uuid.UUID
    kind: SubjectKind
    id: str

    @classmethod
    def patient(cls, practice_id, patient_id) -> Subject:
        return cls(_uuid(practice_id), SubjectKind.PATIENT, str(_uuid(patient_id)))

    @classmethod
    def visitor(cls, practice_id, visitor_id: str) -> Subject:
        return cls(_uuid(practice_id), SubjectKind.VISITOR, str(visitor_id))

    @classmethod
    def applicant(cls, practice_id, submission_id) -> Subject:
        return cls(_uuid(practice_id), SubjectKind.APPLICANT, str(_uuid(submission_id)))

    @classmethod
    def staff(cls, practice_id, user_id) -> Subject:
        return cls(_uuid(practice_id), SubjectKind.STAFF, str(int(user_id)))


def _uuid(value) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound("subject") from None


# --- reading -------------------------------------------------------------------------------------
def _subject_events(subject: Subject):
    return ConsentEvent.objects.filter(subject_kind=subject.kind.value, subject_id=subject.id)


def state(subject: Subject, topic, at: datetime.datetime | None = None) -> TopicState:
    """The state of `topic` for `subject` from its events alone; at `at` (the events made until
    then, as the ledger knows them now), or now."""
    checked = parse_topic(topic)
    with tenant_context(practice_id=subject.practice_id):
        events = _subject_events(subject).filter(topic=checked.value)
        if at is not None:
            events = events.filter(at__lte=at)
        return fold(checked, events)


def current_states(subject: Subject) -> dict[Topic, TopicState]:
    """Every topic's current state for `subject`, from the projection in one query (the hot
    path of public pages). A topic without events is the default: not granted, not answered."""
    with tenant_context(practice_id=subject.practice_id):
        rows = ConsentState.objects.filter(subject_kind=subject.kind.value, subject_id=subject.id, events__gt=0)
        found = {Topic(row.topic): TopicState(Topic(row.topic), **{name: getattr(row, name) for name in STATE_FIELDS}) for row in rows}
    return {topic: found.get(topic, TopicState(topic)) for topic in Topic}


def recent_events(subject: Subject, limit: int = 20) -> list[ConsentEvent]:
    """The subject's latest `limit` events, newest first (what the portal's privacy page lists)."""
    with tenant_context(practice_id=subject.practice_id):
        return list(_subject_events(subject).order_by("-at", "-created_at", "-id")[:limit])


def event_count(subject: Subject) -> int:
    """How many choices the ledger holds for the subject."""
    with tenant_context(practice_id=subject.practice_id):
        return _subject_events(subject).count()


def has_consent(practice_id, patient_id, purpose, channel=None) -> bool:
    """Whether the patient's grants cover `purpose` (on `channel`, when given): marketing by SMS
    needs marketing_sms; marketing without a channel needs either; analytics, AI assistance
    their own topic; treatment needs a channel (treatment by e-mail needs phi_by_email)."""
    topics = topics_for(purpose, channel)
    if not topics:
        raise InvalidInput(f"No consent covers {parse_purpose(purpose).value}{f' by {channel}' if channel else ''}: it does not need one.")
    granted = _granted(practice_id, [patient_id], topics)
    return bool(granted.get(str(_uuid(patient_id))))


def _requirements(purpose: Purpose, categories: Iterable[str]) -> list[tuple[Topic, ...]]:
    """What an opening for `purpose` of `categories` needs: each tuple is "one of these"."""
    if purpose == Purpose.MARKETING:
        channels = sorted({MARKETING_CHANNEL_TOPICS[c] for c in categories if c in MARKETING_CHANNEL_TOPICS})
        return [(topic,) for topic in channels] or [topics_for(purpose)]
    return [topics_for(purpose)]


def _granted(practice_id, patient_ids: Iterable, topics: Iterable[Topic]) -> dict[str, set[Topic]]:
    """{patient id: topics granted now}, from the events, in one query."""
    ids = [str(_uuid(p)) for p in patient_ids]
    wanted = [Topic(t).value for t in topics]
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    with tenant_context(practice_id=_uuid(practice_id)):
        rows = ConsentEvent.objects.filter(subject_kind=SubjectKind.PATIENT.value, subject_id__in=ids, topic__in=wanted)
        for event in rows.only("subject_id", "topic", "action", "method", "at", "created_at", "conflict", "policy_version"):
            grouped[(event.subject_id, event.topic)].append(event)
    out: dict[str, set[Topic]] = defaultdict(set)
    for (subject_id, topic), events in grouped.items():
        if fold(Topic(topic), events).granted:
            out[subject_id].add(Topic(topic))
    return out


# (practice id, patient id) -> (the patient's ledger length, the topics granted after it). The
# ledger is append-only, so its length is a sequence: any grant or withdrawal, by any process,
# makes it longer, and the chart door reads it with the patient (`ledger_length_subquery`).
_GRANTED_AT_LENGTH: dict[tuple[str, str], tuple[int, frozenset[Topic]]] = {}


def clear_consent_cache() -> None:
    _GRANTED_AT_LENGTH.clear()


def ledger_length_subquery(patient_key):
    """The number of ledger events of a patient (`patient_key`: the id as the ledger stores it,
    `str(uuid)`), as a subquery another query can carry; NULL for none."""
    from django.db.models import Count, Subquery

    events = ConsentEvent.objects.filter(subject_kind=SubjectKind.PATIENT.value, subject_id=patient_key).order_by()
    return Subquery(events.values("subject_kind").annotate(n=Count("pk")).values("n")[:1])


def _granted_now(practice_id, patient_id, topics, ledger_length: int | None) -> set[Topic]:
    key = str(_uuid(patient_id))
    if ledger_length is None:
        return _granted(practice_id, [patient_id], topics).get(key, set())
    cache_key = (str(_uuid(practice_id)), key)
    cached = _GRANTED_AT_LENGTH.get(cache_key)
    if cached is not None and cached[0] == ledger_length:
        return set(cached[1])
    # Every topic, read after the length was: at least as new as it, so a cache entry is never
    # older than the length it is filed under (a later event makes the length differ).
    granted = frozenset(_granted(practice_id, [patient_id], list(Topic)).get(key, set()))
    if len(_GRANTED_AT_LENGTH) > 20_000:
        _GRANTED_AT_LENGTH.clear()
    _GRANTED_AT_LENGTH[cache_key] = (ledger_length, granted)
    return set(granted)


def missing_consent(practice_id, patient_id, purpose, categories: Iterable[str], *, ledger_length: int | None = None) -> list[Topic]:
    """The topics a chart opening for `purpose` of `categories` still needs (empty: covered).
    `ledger_length`, the patient's ledger length as the caller just read it (the door reads it
    with the patient), lets the grants come from the process cache while it is unchanged."""
    needs = _requirements(parse_purpose(purpose), list(categories))
    granted = _granted_now(practice_id, patient_id, {t for group in needs for t in group}, ledger_length)
    return [t for group in needs if not set(group) & granted for t in group]


def patients_with_consent(practice_id, patient_ids: Iterable, purpose, categories: Iterable[str]) -> set[str]:
    """The ids (as strings) among `patient_ids` whose grants cover the opening; one query."""
    ids = [str(_uuid(p)) for p in patient_ids]
    needs = _requirements(parse_purpose(purpose), list(categories))
    granted = _granted(practice_id, ids, {t for group in needs for t in group})
    return {pid for pid in ids if all(set(group) & granted.get(pid, set()) for group in needs)}


# --- appending -----------------------------------------------------------------------------------
@dataclass
class _Choice:
    actor: object
    subject: Subject
    topic: Topic
    action: Action
    channel: Channel
    method: Method
    shown_text: str
    scope: str = ""
    at: datetime.datetime | None = None
    request: object = None
    conflict: bool = False
    recorded_by_id: int | None = None
    evidence: dict = field(default_factory=dict)  # a patient's browser evidence: {"ip_address", "user_agent"}, sealed
    ip_prefix: str = ""  # a visitor's or staff member's network, minimised
    ua_family: str = ""


def do_grant(*, actor, subject: Subject, topic, channel, method, shown_text: str, scope: str = "", occurred_at=None, request=None) -> ConsentEvent:
    return _choose(Action.GRANT, actor, subject, topic, channel, method, shown_text, scope, occurred_at, request)


def do_withdraw(*, actor, subject: Subject, topic, channel, method, shown_text: str, scope: str = "", occurred_at=None, request=None) -> ConsentEvent:
    return _choose(Action.WITHDRAW, actor, subject, topic, channel, method, shown_text, scope, occurred_at, request)


def do_decline(*, actor, subject: Subject, topic, channel, method, shown_text: str, scope: str = "", occurred_at=None, request=None) -> ConsentEvent:
    return _choose(Action.DECLINE, actor, subject, topic, channel, method, shown_text, scope, occurred_at, request)


def do_choose(*, action, **kwargs) -> ConsentEvent:
    """`do_grant`, `do_withdraw` or `do_decline` by the action's name (for forms that post one)."""
    try:
        checked = Action(action)
    except ValueError:
        raise InvalidInput(f"{str(action)[:20]!r} is not a choice; the choices are: grant, withdraw, decline.") from None
    return {Action.GRANT: do_grant, Action.WITHDRAW: do_withdraw, Action.DECLINE: do_decline}[checked](**kwargs)


def _choose(action, actor, subject, topic, channel, method, shown_text, scope, occurred_at, request) -> ConsentEvent:
    return append_choice(check_choice(action, actor, subject, topic, channel, method, shown_text, scope, occurred_at, request))


def check_choice(action, actor, subject, topic, channel, method, shown_text, scope="", occurred_at=None, request=None) -> _Choice:
    """A choice validated and authorized, its transition checked against the state now: a clear
    error before anything is opened or written. `append_choice` appends it."""
    choice = _Choice(
        actor=actor, subject=subject, topic=parse_topic(topic), action=action, channel=parse_channel(channel),
        method=parse_method(method), shown_text=shown_text, scope=scope, request=request,
    )  # fmt: skip
    if choice.method in SIGNAL_METHODS:
        raise InvalidInput("Browser signals are recorded by the signal middleware, not as a choice.")
    choice.at = _occurred_at(choice.method, occurred_at)
    _validate(choice)
    _authorize(choice)
    _check_transition(choice, state(subject, choice.topic))  # a clear error before anything is opened
    return choice


def append_choice(choice: _Choice) -> ConsentEvent:
    """Append a checked choice. A patient's browser evidence is PHI, sealed under their key: it is
    written only inside the chart door opened for it (`confide.access.consent.do_patient_choice`
    opens it as the `consent-evidence` job; the ledger sits below the door and cannot)."""
    if choice.evidence and not all(_evidence_allowed(choice, category) for category in EVIDENCE_CATEGORIES):
        raise Forbidden(
            "a patient's own choice from a browser carries evidence that is written through the chart door: "
            "record it with confide.access.consent.do_patient_choice"
        )
    return _append(choice)


# The categories of ConsentEvidence's sealed fields (IP address, user agent).
EVIDENCE_CATEGORIES = frozenset(f.category for f in encrypted_fields(ConsentEvidence))


def _evidence_allowed(choice: _Choice, category: str) -> bool:
    allowance = current_allowance()
    return allowance is not None and allowance.permits(category, choice.subject.id)


def _occurred_at(method: Method, occurred_at) -> datetime.datetime:
    now = timezone.now()
    if occurred_at is None:
        return now
    if method != Method.IMPORT:
        raise InvalidInput("Only an imported choice carries its own time; any other is recorded as made now.")
    if not isinstance(occurred_at, datetime.datetime) or timezone.is_naive(occurred_at):
        raise InvalidInput("Give the imported choice's time as an aware date and time.")
    if occurred_at > now:
        raise InvalidInput("An imported choice cannot have been made in the future.")
    return occurred_at


def _validate(choice: _Choice) -> None:
    spec = TOPICS[choice.topic]
    if choice.subject.kind not in spec.subjects:
        raise InvalidInput(f"{spec.label.capitalize()} is not a choice a {choice.subject.kind.value} makes here.")
    if choice.channel not in _CHANNELS_BY_METHOD[choice.method]:
        raise InvalidInput(f"A choice made by {choice.method.value} is not made through the {choice.channel.value} channel.")
    text = choice.shown_text if isinstance(choice.shown_text, str) else ""
    if not text.strip():
        raise InvalidInput("Record the exact text the person was shown (or read out): it is the evidence of what they agreed to.")
    if len(text) > SHOWN_TEXT_MAX:
        raise InvalidInput(f"The text shown is limited to {SHOWN_TEXT_MAX} characters.")
    scope = str(choice.scope or "")
    if len(scope) > SCOPE_MAX or any(not (c.isascii() and (c.isalnum() or c in "_:.-")) for c in scope):
        raise InvalidInput(f"A scope is up to {SCOPE_MAX} letters, digits and _ : . - (for example appointment:<id>).")
    choice.scope = scope


def _authorize(choice: _Choice) -> None:
    actor, subject = choice.actor, choice.subject
    if getattr(actor, "practice_id", None) != subject.practice_id:
        raise Forbidden("a choice is recorded in the actor's own practice")
    if isinstance(actor, VisitorActor):
        if subject.kind != SubjectKind.VISITOR or subject.id != actor.visitor_id or choice.method not in {Method.FORM_BUTTON, *SIGNAL_METHODS}:
            raise Forbidden("a visitor records only their own choices, with a button or a browser signal")
        _add_network(choice)
    elif isinstance(actor, ApplicantActor):
        if subject.kind != SubjectKind.APPLICANT or subject.id != str(actor.submission_id) or choice.method != Method.FORM_BUTTON:
            raise Forbidden("an applicant records only the authorization of their own consultation, with a button")
        _add_network(choice)
    elif isinstance(actor, PatientActor):
        if subject.kind != SubjectKind.PATIENT or subject.id != str(actor.patient_id) or choice.method not in {Method.FORM_BUTTON, Method.UNSUBSCRIBE_LINK}:
            raise Forbidden("a patient records only their own choices, with a button")
        if choice.method == Method.UNSUBSCRIBE_LINK and (choice.action != Action.WITHDRAW or choice.topic != Topic.MARKETING_EMAIL):
            raise Forbidden("an unsubscribe link only withdraws news and offers by e-mail")
        _require_patient(subject)
        request = choice.request
        if request is not None:
            choice.evidence = {
                "ip_address": client_ip(request),
                "user_agent": (request.headers.get("User-Agent") or "")[:512],
            }
    elif isinstance(actor, TextSenderActor):
        # The patient's own text: only their choices about texts, only by the keyword method.
        if subject.kind != SubjectKind.PATIENT or subject.id != str(actor.patient_id) or choice.method != Method.SMS_KEYWORD:
            raise Forbidden("a text message records only its sender's own choices about texts")
        if TOPICS[choice.topic].covers != Channel.SMS:
            raise Forbidden("a text message records only choices about texts")
        _require_patient(subject)
    elif isinstance(actor, RightsRequestActor):
        # An opt-out filed on the public privacy-request form, matched to this patient: only an
        # opt-out, only granted (it restricts, never permits), by the form's button.
        if (subject.kind != SubjectKind.PATIENT or subject.id != str(actor.patient_id) or choice.method != Method.FORM_BUTTON
                or choice.action != Action.GRANT or choice.topic.value not in OPT_OUT_TOPIC_VALUES):  # fmt: skip
            raise Forbidden("a privacy request on the public form records only an opt-out of the patient it names")
        _require_patient(subject)  # no network details on a patient's event (consent_event_no_patient_network)
    elif isinstance(actor, StaffActor):
        _require_membership(actor)
        if subject.kind == SubjectKind.STAFF and subject.id == str(actor.user_id) and choice.method == Method.FORM_BUTTON:
            _add_network(choice)
            return
        if subject.kind != SubjectKind.PATIENT:
            raise Forbidden("staff record their own choices, or a patient's")
        if not actor.has(Perm.CONSENT_RECORD):
            raise Forbidden(Perm.CONSENT_RECORD)
        if choice.method not in STAFF_METHODS:
            raise InvalidInput("Staff record a patient's choice made by phone (staff_phone), on paper (staff_paper), or imported.")
        _require_patient(subject)
        choice.recorded_by_id = actor.user_id
    else:
        raise Forbidden("consent is recorded by a visitor, a patient or a staff member")


def _add_network(choice: _Choice) -> None:
    request = choice.request
    if request is not None:
        choice.ip_prefix = network_prefix(client_ip(request))
        choice.ua_family = browser_family(request.headers.get("User-Agent"))


def _require_membership(actor: StaffActor) -> None:
    from confide.accounts.models import Membership

    with tenant_context(practice_id=actor.practice_id):
        if not Membership.objects.filter(id=actor.membership_id, user_id=actor.user_id, role=actor.role, is_active=True, user__is_active=True).exists():
            raise Forbidden("the acting staff member has no active membership in this practice")


def _require_patient(subject: Subject) -> None:
    from confide.vault import tombstones

    with tenant_context(practice_id=subject.practice_id):
        active = patient_model().objects.filter(pk=subject.id, is_active=True).exists()
    if not active or tombstones.is_shredded(subject.id):
        raise NotFound("patient")  # missing, another practice's, or no longer in the active database


_PAST = {"grant": "granted", "withdraw": "withdrawn", "decline": "declined"}


def _check_transition(choice: _Choice, current: TopicState) -> None:
    label = TOPICS[choice.topic].label
    if choice.action == Action.WITHDRAW and not current.granted:
        if current.answered:
            raise InvalidInput(
                f"There is nothing to withdraw: {label} is not granted now "
                f"(it was {_PAST.get(current.last_action, current.last_action)} on {current.last_at:%Y-%m-%d})."
            )
        raise InvalidInput(f"There is nothing to withdraw: {label} was never granted.")
    if choice.action == Action.DECLINE and current.granted:
        raise InvalidInput(f"{label.capitalize()} is granted; withdraw it instead of declining.")


class _AuditRequest(SimpleNamespace):
    """What the audit entry may keep of a visitor's or patient's request: its id. Their IP and
    user agent stay out of the log (TRK1): a visitor's are minimised on the event, a patient's
    are encrypted in ConsentEvidence."""


def _audit_request(choice: _Choice):
    request = choice.request
    if request is None:
        return None
    if isinstance(choice.actor, StaffActor) and choice.subject.kind == SubjectKind.PATIENT:
        return request  # the staff member's own request, like any staff action
    return _AuditRequest(request_id=getattr(request, "request_id", ""), META={}, headers={})


def _audit_actor(actor):
    if isinstance(actor, PatientActor):
        return patient_audit_actor(actor)
    if isinstance(actor, TextSenderActor):
        return AuditActor("patient", str(actor.patient_id), "text")
    if isinstance(actor, (VisitorActor, RightsRequestActor)):
        return AuditActor("anonymous")  # the visitor id / the request is on the event, not copied into the log
    return actor


def _append(choice: _Choice, *, overrides: ConsentEvent | None = None, audit_event: AuditEvent | None = None) -> ConsentEvent:
    from confide.policy.services import version_in_force

    subject, topic, spec = choice.subject, choice.topic, TOPICS[choice.topic]
    with tenant_context(practice_id=subject.practice_id), transaction.atomic():
        row = locks.lock_state(subject.practice_id, subject.kind.value, subject.id, topic.value)
        current = fold(topic, _subject_events(subject).filter(topic=topic.value))
        _check_transition(choice, current)  # again, under the lock: the answer above may be stale
        event = ConsentEvent.objects.create(
            practice_id=subject.practice_id,
            subject_kind=subject.kind.value,
            subject_id=subject.id,
            patient_id=uuid.UUID(subject.id) if subject.kind == SubjectKind.PATIENT else None,
            topic=topic.value,
            purpose=str(spec.purpose),
            action=choice.action.value,
            channel=choice.channel.value,
            scope=choice.scope,
            policy_version=version_in_force(subject.practice_id, choice.at).number,
            method=choice.method.value,
            recorded_by_id=choice.recorded_by_id,
            text_sha256=text_sha256(choice.shown_text),
            ip_prefix=choice.ip_prefix,
            ua_family=choice.ua_family,
            at=choice.at,
            conflict=choice.conflict,
            overrides=overrides,
        )
        if choice.evidence:
            ConsentEvidence.objects.create(practice_id=subject.practice_id, event=event, patient_id=uuid.UUID(subject.id), **choice.evidence)
        # The projection is the fold of the events (the ones before, and this one): never an edit.
        projected = as_row(fold(topic, _subject_events(subject).filter(topic=topic.value)))
        for name, value in projected.items():
            setattr(row, name, value)
        row.save(update_fields=[*STATE_FIELDS, "updated_at"])
        record(
            audit_event or _AUDIT_EVENTS[choice.action],
            practice_id=subject.practice_id,
            actor=_audit_actor(choice.actor),
            purpose=str(spec.purpose) if isinstance(spec.purpose, Purpose) else "",
            subject_id=uuid.UUID(subject.id) if subject.kind == SubjectKind.PATIENT else None,
            resource_ids=[event.pk],
            categories=[CONSENT_CATEGORY],
            detail={
                "topic": topic.value, "action": choice.action.value, "method": choice.method.value,
                "channel": choice.channel.value, "subject_kind": subject.kind.value,
                "policy_version": event.policy_version, "conflict": choice.conflict,
            },  # fmt: skip
            request=_audit_request(choice),
        )
    logger.info("consent recorded", extra={"object_id": str(event.pk), "event": f"{topic.value}:{choice.action.value}"})
    return event


# --- browser signals (used by confide/consent/signals.py) ------------------------------------------
def record_signal(*, actor: VisitorActor, topic: Topic, action: Action, method: Method, shown_text: str, overrides_event_id=None, request=None) -> ConsentEvent:
    """A browser signal honoured for a visitor: `consent:signal-recorded`. `overrides_event_id`
    names the explicit choice it overrode (GPC against an older opt-in), which flags the conflict."""
    if method not in SIGNAL_METHODS:
        raise InvalidInput("record_signal records a browser signal")
    subject = Subject.visitor(actor.practice_id, actor.visitor_id)
    choice = _Choice(
        actor=actor, subject=subject, topic=Topic(topic), action=Action(action), channel=Channel.COOKIE, method=method,
        shown_text=shown_text, at=timezone.now(), request=request, conflict=overrides_event_id is not None,
    )  # fmt: skip
    _validate(choice)
    _authorize(choice)
    overrides = None
    if overrides_event_id is not None:
        with tenant_context(practice_id=subject.practice_id):
            overrides = ConsentEvent.objects.get(pk=overrides_event_id, subject_id=subject.id)
    return _append(choice, overrides=overrides, audit_event=AuditEvent.CONSENT_SIGNAL_RECORDED)


# --- the projection ------------------------------------------------------------------------------
@dataclass
class RebuildReport:
    practice_id: uuid.UUID
    keys: int = 0
    missing: list[tuple] = field(default_factory=list)  # a (kind, id, topic) with events but no row
    extra: list[tuple] = field(default_factory=list)  # a row with no events
    differing: list[tuple] = field(default_factory=list)  # (kind, id, topic, [field names])

    @property
    def mismatches(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.differing)


def rebuild_projection(practice_id, *, write: bool = True) -> RebuildReport:
    """Recompute every ConsentState row of a practice from its events; report (and, with
    `write`, repair) rows that are missing, extra or differ. One transaction."""
    practice_id = _uuid(practice_id)
    report = RebuildReport(practice_id)
    with tenant_context(practice_id=practice_id), transaction.atomic():
        grouped: dict[tuple, list] = defaultdict(list)
        for event in ConsentEvent.objects.order_by("subject_kind", "subject_id", "topic").iterator(chunk_size=2000):
            grouped[(event.subject_kind, event.subject_id, event.topic)].append(event)
        expected = {key: as_row(fold(Topic(key[2]), events)) for key, events in grouped.items()}
        stored = {(row.subject_kind, row.subject_id, row.topic): row for row in ConsentState.objects.select_for_update()}
        report.keys = len(expected)
        for key, row in stored.items():
            if key not in expected:
                report.extra.append(key)
                if write:
                    ConsentState.objects.filter(pk=row.pk).delete()
                continue
            wrong = [name for name, value in expected[key].items() if getattr(row, name) != value]
            if wrong:
                report.differing.append((*key, wrong))
                if write:
                    for name in wrong:
                        setattr(row, name, expected[key][name])
                    row.save(update_fields=[*wrong, "updated_at"])
        for key, values in expected.items():
            if key not in stored:
                report.missing.append(key)
                if write:
                    ConsentState.objects.create(practice_id=practice_id, subject_kind=key[0], subject_id=key[1], topic=key[2], **values)
    return report


__all__ = [
    "RebuildReport", "Subject", "current_states", "do_choose", "do_decline", "do_grant", "do_withdraw", "event_count", "has_consent",
    "missing_consent", "patients_with_consent", "rebuild_projection", "recent_events", "record_signal", "state",
]  # fmt: skip
