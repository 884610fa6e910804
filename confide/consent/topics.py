"""What a consent is about (the topic), who gives it, how, and through which channel.

A consent *topic* is one yes/no question the ledger answers for one subject. Each topic names
the processing it covers: a `Purpose` of the chart door (marketing, analytics, AI assistance,
treatment) and, where the purpose is only allowed on some channels, the channel it covers
(marketing by e-mail is not marketing by text message). Three topics are *opt-outs*: what is
granted is the request not to do something (CCPA's "Do Not Sell or Share", "Limit the use of my
sensitive personal information", and the opt-out of profiling). Confide never sells, shares for
advertising, or profiles, so those three change no processing today; they are recorded so the
choice is on file (and honoured by any future processor through the egress gate).

| topic                 | purpose / scope    | covers channel | kind    | subjects                  |
| --------------------- | ------------------ | -------------- | ------- | ------------------------- |
| marketing_email       | marketing          | email          | opt-in  | patient                   |
| marketing_sms         | marketing          | sms            | opt-in  | patient                   |
| analytics_cookies     | analytics          | web            | opt-in  | visitor, patient, staff   |
| ai_features           | ai_assist          |                | opt-in  | patient                   |
| phi_by_email          | treatment          | email          | opt-in  | patient                   |
| sms_texts             | operations         | sms            | opt-in  | patient                   |
| phi_by_sms            | treatment          | sms            | opt-in  | patient                   |
| telehealth_recording  | treatment          |                | opt-in  | patient, staff            |
| sale_share_opt_out    | sale_share         |                | opt-out | visitor, patient          |
| limit_sensitive       | sensitive_limit    |                | opt-out | visitor, patient          |
| profiling_opt_out     | profiling          |                | opt-out | visitor, patient          |
| consultation_authorization | treatment     |                | opt-in  | applicant, patient        |
| psychotherapy_notes_disclosure | patient_request |            | opt-in  | patient                   |
| profile_publication   | publication (staff)| web            | opt-in  | staff                     |

`profile_publication` is a practitioner's own choice to show their profile on the practice's
website (DIR1): granted with the "Publish" button, withdrawn with "Unpublish"; nobody else records it.

`sms_texts` is the patient's consent to texts about their care and account (reminders, "you have
a new secure message", replies from staff): TCPA's prior express consent, which the send gate asks
of every operational text (confide/messaging/gate.py); a STOP withdraws it, START grants it again.
`phi_by_sms` is the patient asking for the details themselves by text rather than a notice to
sign in (MSG4's rule for e-mail, applied to SMS).

`consultation_authorization` is the authorization a visitor gives when sending an online
consultation (REC2, REC5): recorded for the *applicant* (the submission's id) the moment it is
sent, and carried over to the patient (method import, its original time) when staff accept it.
`psychotherapy_notes_disclosure` is HIPAA's specific authorization to release psychotherapy
notes (§164.508(a)(2)), recorded by staff from the signed form; without it no export holds them.

An event's `channel` is where the choice was *made* (a text-message keyword, the portal, the
cookie banner, a phone call); the topic's `covers` channel is where the processing it allows
*happens*. `has_consent(..., channel="sms")` asks about the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum, unique

from confide.core.purposes import Purpose
from confide.core.errors import InvalidInput


@unique
class Topic(StrEnum):
    MARKETING_EMAIL = "marketing_email"
    MARKETING_SMS = "marketing_sms"
    ANALYTICS_COOKIES = "analytics_cookies"
    AI_FEATURES = "ai_features"
    PHI_BY_EMAIL = "phi_by_email"
    TELEHEALTH_RECORDING = "telehealth_recording"
    SALE_SHARE_OPT_OUT = "sale_share_opt_out"
    LIMIT_SENSITIVE = "limit_sensitive"
    PROFILING_OPT_OUT = "profiling_opt_out"
    CONSULTATION_AUTHORIZATION = "consultation_authorization"
    PSYCHOTHERAPY_DISCLOSURE = "psychotherapy_notes_disclosure"
    SMS_TEXTS = "sms_texts"
    PHI_BY_SMS = "phi_by_sms"
    PROFILE_PUBLICATION = "profile_publication"


@unique
class OptOutScope(StrEnum):
    """The `purpose` column of an opt-out topic: processing Confide does not do, named so the
    request not to do it can be recorded (there is deliberately no `Purpose` for any of them)."""

    SALE_SHARE = "sale_share"
    SENSITIVE_LIMIT = "sensitive_limit"
    PROFILING = "profiling"


@unique
class StaffScope(StrEnum):
    """The `purpose` column of a staff member's own consent about their own data: no `Purpose` of
    the chart door (it is not patient data), so no patient opening ever asks for it."""

    PUBLICATION = "publication"  # the practitioner's profile shown on the practice's website (DIR1)


@unique
class SubjectKind(StrEnum):
    PATIENT = "patient"  # subject id: the patient's UUID
    VISITOR = "visitor"  # subject id: the random id in the signed visitor cookie of one practice's pages
    STAFF = "staff"  # subject id: the user id
    APPLICANT = "applicant"  # subject id: an online consultation's id, before it becomes a patient


@unique
class Action(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"  # a grant taken back: only what is granted can be withdrawn
    # Asked, and said no (the banner's "No thanks", a browser signal with nothing granted). The
    # state is the same as never asked — not granted — but the question is answered, so it is
    # not asked again, and the ledger shows the answer (CON1: every choice is recorded).
    DECLINE = "decline"


@unique
class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PORTAL = "portal"
    COOKIE = "cookie"  # the cookie banner, or a browser signal on a page request
    WEB = "web"  # a public page of the practice (the privacy choices pages)
    PHONE = "phone"
    PAPER = "paper"
    IN_PERSON = "in_person"


@unique
class Method(StrEnum):
    FORM_BUTTON = "form_button"  # the subject pressed a button on a form we showed
    STAFF_PHONE = "staff_phone"  # staff recorded what the patient said on the phone (recorded_by)
    STAFF_PAPER = "staff_paper"  # staff recorded a signed paper form (recorded_by)
    SMS_KEYWORD = "sms_keyword"  # a keyword such as STOP or START in a text message
    GPC_HEADER = "gpc_header"  # the browser sent Sec-GPC: 1
    DNT_HEADER = "dnt_header"  # the browser sent DNT: 1
    IMPORT = "import"  # carried over from another system, with its original time (recorded_by)
    # The patient used the one-click unsubscribe link of a marketing e-mail (RFC 8058): a signed
    # token names them; it only ever withdraws marketing by e-mail (confide/messaging/unsubscribe.py).
    UNSUBSCRIBE_LINK = "unsubscribe_link"


SIGNAL_METHODS = frozenset({Method.GPC_HEADER, Method.DNT_HEADER})
STAFF_METHODS = frozenset({Method.STAFF_PHONE, Method.STAFF_PAPER, Method.IMPORT})


@dataclass(frozen=True)
class TopicSpec:
    topic: Topic
    purpose: str  # a Purpose value, or an OptOutScope value for an opt-out
    covers: Channel | None  # the channel the processing happens on, where the topic is channel-specific
    opt_out: bool
    subjects: frozenset[SubjectKind]
    label: str  # how the choices pages and the banner name it


_P, _V, _S, _A = SubjectKind.PATIENT, SubjectKind.VISITOR, SubjectKind.STAFF, SubjectKind.APPLICANT
TOPICS: dict[Topic, TopicSpec] = {
    spec.topic: spec
    for spec in (
        TopicSpec(Topic.MARKETING_EMAIL, Purpose.MARKETING, Channel.EMAIL, False, frozenset({_P}), "news and offers by e-mail"),
        TopicSpec(Topic.MARKETING_SMS, Purpose.MARKETING, Channel.SMS, False, frozenset({_P}), "news and offers by text message"),
        TopicSpec(Topic.ANALYTICS_COOKIES, Purpose.ANALYTICS, Channel.WEB, False, frozenset({_V, _P, _S}), "usage statistics"),
        TopicSpec(Topic.AI_FEATURES, Purpose.AI_ASSIST, None, False, frozenset({_P}), "AI assistance"),
        TopicSpec(Topic.PHI_BY_EMAIL, Purpose.TREATMENT, Channel.EMAIL, False, frozenset({_P}), "health information by e-mail"),
        TopicSpec(Topic.TELEHEALTH_RECORDING, Purpose.TREATMENT, None, False, frozenset({_P, _S}), "recording of telehealth sessions"),
        TopicSpec(Topic.SALE_SHARE_OPT_OUT, OptOutScope.SALE_SHARE, None, True, frozenset({_V, _P}), "the opt-out of sale and sharing"),
        TopicSpec(Topic.LIMIT_SENSITIVE, OptOutScope.SENSITIVE_LIMIT, None, True, frozenset({_V, _P}), "the limit on the use of sensitive information"),
        TopicSpec(Topic.PROFILING_OPT_OUT, OptOutScope.PROFILING, None, True, frozenset({_V, _P}), "the opt-out of profiling"),
        TopicSpec(Topic.CONSULTATION_AUTHORIZATION, Purpose.TREATMENT, None, False, frozenset({_A, _P}),
                  "keeping what an online consultation says"),
        TopicSpec(Topic.PSYCHOTHERAPY_DISCLOSURE, Purpose.PATIENT_REQUEST, None, False, frozenset({_P}),
                  "the release of psychotherapy notes"),
        TopicSpec(Topic.SMS_TEXTS, Purpose.OPERATIONS, Channel.SMS, False, frozenset({_P}), "text messages about your care"),
        TopicSpec(Topic.PHI_BY_SMS, Purpose.TREATMENT, Channel.SMS, False, frozenset({_P}), "health details by text message"),
        TopicSpec(Topic.PROFILE_PUBLICATION, StaffScope.PUBLICATION, Channel.WEB, False, frozenset({_S}),
                  "publishing your profile on the practice's website"),
    )
}  # fmt: skip
assert set(TOPICS) == set(Topic), "every topic has its row"

# What each browser signal asks for: topic -> the state it wants (True: granted).
GPC_WANTS: dict[Topic, bool] = {Topic.SALE_SHARE_OPT_OUT: True, Topic.ANALYTICS_COOKIES: False}
DNT_WANTS: dict[Topic, bool] = {Topic.ANALYTICS_COOKIES: False}

# The contact categories a marketing opening of the chart door reads, and the topic each needs.
MARKETING_CHANNEL_TOPICS: dict[str, Topic] = {"contact.email": Topic.MARKETING_EMAIL, "contact.phone": Topic.MARKETING_SMS}


def _choices(enum) -> str:
    return ", ".join(member.value for member in enum)


def parse_topic(value) -> Topic:
    try:
        return Topic(value)
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not a consent topic; the topics are: {_choices(Topic)}.") from None


def parse_channel(value) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not a channel; the channels are: {_choices(Channel)}.") from None


def parse_method(value) -> Method:
    try:
        return Method(value)
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not a way of recording consent; the methods are: {_choices(Method)}.") from None


def parse_purpose(value) -> Purpose:
    try:
        return Purpose(value)
    except ValueError:
        raise InvalidInput(f"{str(value)[:40]!r} is not a purpose; the purposes are: {_choices(Purpose)}.") from None


def topics_for(purpose, channel=None) -> tuple[Topic, ...]:
    """The opt-in topics that allow `purpose` (on `channel`, when given). Empty when no topic
    covers the pair (e.g. treatment in general needs no consent; treatment by e-mail does)."""
    checked = parse_purpose(purpose)
    wanted = parse_channel(channel) if channel is not None else None
    return tuple(
        spec.topic
        for spec in TOPICS.values()
        if not spec.opt_out and spec.purpose == checked and (wanted is None or spec.covers == wanted)
        and (wanted is not None or checked != Purpose.TREATMENT)  # "treatment, any channel" is not a consent question
    )  # fmt: skip
