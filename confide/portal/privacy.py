"""The portal's privacy centre: what the patient (or a minor's parent or guardian) sees and
chooses about the record the portal acts on (`request.portal.actor`), never one named by the
request.

    consent_topics(actor)                      every choice, its state in words, the ledger lines
    do_choice(actor=…, topic=…, action=…, …)   one-step grant or withdraw (the ledger, with evidence)
    browser_signals(request)                   GPC / DNT of this browser, in words
    what_we_hold(actor)                        the declaration in force, for this patient, with counts
    access_report(actor, dates)                "who opened my record": rows in words, the
                                               patient's own openings summarised
    access_csv_lines / access_pdf              the same rows, downloaded

Every read of the record is a chart-door opening as the patient actor (purpose patient_request):
the door re-reads the account's link, so an ended link or another account's record is a 404.
Every view of the access report, and each download, is itself one `portal:access-report:viewed`
audit entry (ids, the format and the dates asked for).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone

from confide.access import consent as patient_consent
from confide.access import policy
from confide.access.door import ACCESS_REPORT_JOB, SYSTEM_JOBS, open_chart
from confide.audit import reports
from confide.audit.chain import record
from confide.audit.events import AuditEvent, event_label
from confide.consent import services as consent
from confide.consent.evidence import text_sha256
from confide.consent.topics import TOPICS, Action, Channel, Method, Topic
from confide.core.actors import PatientActor
from confide.core.errors import InvalidInput
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context

# --- consent -------------------------------------------------------------------------------------
NO_PENALTY = "Saying no to any of these never changes your care, your visits or what you can do in this portal."


@dataclass(frozen=True)
class PortalTopic:
    topic: Topic
    title: str  # what it is, in a few words
    explain: str  # one or two short sentences
    on: str  # the state when granted, in words
    off: str
    grant: str  # the button that grants it
    withdraw: str  # the button that withdraws it
    name: str  # how a ledger line names it ("You withdrew {name} on …")


# The choices a patient makes here, in the order shown. Not here: the authorization of an online
# consultation (given with the form) and the release of psychotherapy notes (a signed form).
PORTAL_TOPICS: tuple[PortalTopic, ...] = (
    PortalTopic(Topic.SMS_TEXTS, "Text messages about your care", "Reminders and notices of new messages by text. Replying STOP turns them off.",
                "On", "Off", "Yes, text me", "Stop texting me", "text messages about your care"),
    PortalTopic(Topic.PHI_BY_SMS, "Health details by text", "Texts are not private. We put health details in a text only if you say yes.",
                "On", "Off", "Yes, text me health details", "Stop health details by text", "health details by text"),
    PortalTopic(Topic.MARKETING_SMS, "Text messages with news and offers", "We send news and offers by text only if you say yes.",
                "On", "Off", "Yes, send me texts", "Stop these texts", "text messages with news and offers"),
    PortalTopic(Topic.MARKETING_EMAIL, "E-mails with news and offers", "We send news and offers by e-mail only if you say yes.",
                "On", "Off", "Yes, send me e-mails", "Stop these e-mails", "e-mails with news and offers"),
    PortalTopic(Topic.PHI_BY_EMAIL, "Health details by e-mail", "E-mail is not private. We put health details in an e-mail only if you say yes.",
                "On", "Off", "Yes, e-mail me health details", "Stop health details by e-mail", "health details by e-mail"),
    PortalTopic(Topic.AI_FEATURES, "AI help", "Staff may use AI tools to help draft notes for you. We use them only if you say yes.",
                "On", "Off", "Yes, AI help is fine", "No AI help", "AI help"),
    PortalTopic(Topic.TELEHEALTH_RECORDING, "Recording video visits", "We record a video visit only if you say yes.",
                "On", "Off", "Yes, you may record", "Do not record", "recording of video visits"),
    PortalTopic(Topic.ANALYTICS_COOKIES, "Counting visits to our pages", "We count page visits on our own server, with nothing that names you.",
                "On", "Off", "Yes, count my visits", "Do not count my visits", "counting your visits"),
    PortalTopic(Topic.SALE_SHARE_OPT_OUT, "Do not sell or share my data", "We never sell or share your data. You can still ask us to note it.",
                "You asked us not to", "Not asked", "Do not sell or share it", "Take back this request", "your request not to sell or share"),
    PortalTopic(Topic.LIMIT_SENSITIVE, "Limit use of private details", "We use private details only to care for you and run the practice.",
                "You asked us to limit it", "Not asked", "Limit the use", "Take back this request", "your request to limit use"),
    PortalTopic(Topic.PROFILING_OPT_OUT, "No profiles of me", "We never make a profile of you. You can still ask us to note it.",
                "You asked us not to", "Not asked", "Do not make a profile", "Take back this request", "your request for no profiles"),
)  # fmt: skip
BY_TOPIC = {t.topic.value: t for t in PORTAL_TOPICS}


def shown_text(item: PortalTopic, action: Action) -> str:
    """The exact words of one choice as the page shows them: the title, the explanation, the
    promise of no penalty, and the button pressed. The ledger keeps their SHA-256 (CON1)."""
    button = item.grant if action == Action.GRANT else item.withdraw
    return f"{item.title}. {item.explain} {NO_PENALTY}\n[{button}]"


def shown_digest(item: PortalTopic, action: Action) -> str:
    return text_sha256(shown_text(item, action))


@dataclass(frozen=True)
class TopicRow:
    item: PortalTopic
    granted: bool
    state: str  # in words
    since: datetime.datetime | None
    action: str  # the one button shown: grant or withdraw
    button: str
    digest: str


@dataclass(frozen=True)
class LedgerLine:
    at: datetime.datetime
    text: str


_PAST = {Action.GRANT: "said yes to", Action.WITHDRAW: "withdrew", Action.DECLINE: "said no to"}
_PAST_OPT_OUT = {Action.GRANT: "asked for", Action.WITHDRAW: "took back", Action.DECLINE: "said no to"}
_HOW = {
    Method.STAFF_PHONE: "Staff noted on the phone that you",
    Method.STAFF_PAPER: "Staff noted from a signed form that you",
    Method.IMPORT: "An earlier system noted that you",
    Method.SMS_KEYWORD: "By text message, you",
    Method.UNSUBSCRIBE_LINK: "With the unsubscribe link in an e-mail, you",
    Method.GPC_HEADER: "Your browser's privacy signal",
    Method.DNT_HEADER: "Your browser's privacy signal",
}


def ledger_text(event) -> str:
    item = BY_TOPIC.get(event.topic)
    name = item.name if item else TOPICS[Topic(event.topic)].label
    opt_out = TOPICS[Topic(event.topic)].opt_out
    verb = (_PAST_OPT_OUT if opt_out else _PAST)[Action(event.action)]
    who = _HOW.get(Method(event.method), "You")
    when = f"{timezone.localtime(event.at):%-d %B %Y}"
    if Method(event.method) in (Method.GPC_HEADER, Method.DNT_HEADER):
        return f"{who} turned off {name} on {when}"
    return f"{who} {verb} {name} on {when}"


def _subject(actor: PatientActor) -> consent.Subject:
    return consent.Subject.patient(actor.practice_id, actor.patient_id)


def consent_topics(actor: PatientActor, *, ledger_limit: int = 20) -> tuple[list[TopicRow], list[LedgerLine]]:
    """Each choice with its state now (from the ledger's projection) and the one button that
    changes it, and the record's latest ledger events in words, newest first."""
    states = consent.current_states(_subject(actor))
    rows = []
    for item in PORTAL_TOPICS:
        state = states[item.topic]
        action = Action.WITHDRAW if state.granted else Action.GRANT
        rows.append(TopicRow(
            item=item, granted=state.granted, state=item.on if state.granted else item.off, since=state.last_at if state.answered else None,
            action=action.value, button=item.withdraw if state.granted else item.grant, digest=shown_digest(item, action),
        ))  # fmt: skip
    events = consent.recent_events(_subject(actor), limit=ledger_limit)
    return rows, [LedgerLine(e.at, ledger_text(e)) for e in events]


def _check_record(actor: PatientActor, link_id) -> None:
    """The form names the record it was shown for: another (a switch in another tab, a forged
    value) is refused before anything is written."""
    if str(link_id or "") != str(actor.link_id):
        raise InvalidInput("This page was for another record. Nothing was changed. Please look again and choose.")


def do_choice(*, actor: PatientActor, link_id, topic, action, digest, request=None):
    """One grant or withdrawal by the patient (or, for a minor, by the parent or guardian:
    recorded as theirs, `patient_audit_actor`), with its evidence, through the ledger."""
    _check_record(actor, link_id)
    item = BY_TOPIC.get(str(topic or ""))
    if item is None:
        raise InvalidInput("That is not a choice on this page. Nothing was changed.")
    if action not in (Action.GRANT.value, Action.WITHDRAW.value):
        raise InvalidInput("Choose yes or no with one of the buttons. Nothing was changed.")
    checked = Action(action)
    text = shown_text(item, checked)
    if digest != text_sha256(text):
        raise InvalidInput("This page has changed since you opened it. Nothing was changed. Please look again and choose.")
    # As the patient first: the door re-reads the account's link (ended, or not this record: 404).
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={policy.NAME}, request=request):
        pass
    return patient_consent.do_patient_choice(
        action=checked.value, actor=actor, subject=_subject(actor), topic=item.topic, channel=Channel.PORTAL,
        method=Method.FORM_BUTTON, shown_text=text, request=request,
    )  # fmt: skip


# --- browser signals -----------------------------------------------------------------------------
def browser_signals(request) -> str:
    gpc = (request.headers.get("Sec-GPC") or "").strip() == "1"
    dnt = (request.headers.get("DNT") or "").strip() == "1"
    if gpc and dnt:
        said = "Your browser sends two privacy signals: Global Privacy Control and Do Not Track."
    elif gpc:
        said = "Your browser sends a privacy signal: Global Privacy Control."
    elif dnt:
        said = "Your browser sends a privacy signal: Do Not Track."
    else:
        return (
            "Your browser sends no privacy signal. Some browsers can send one. On our public pages we then "
            "turn off visit counting and note that you do not want your data sold or shared."
        )
    return said + " On our public pages we honour it: we turn off visit counting and note that you do not want your data sold or shared."


# --- what we hold --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Held:
    label: str
    description: str
    count: int | None  # items held for this patient; None: not counted here
    unit: str = "item"

    @property
    def in_words(self) -> str:
        if self.count is None:
            return ""
        if self.count == 0:
            return "none"
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"


# Why we use it, in plain words for the portal (grade 8; the notice keeps the declaration's own
# descriptions). The purposes are the code's (core/purposes.py): a test keeps the keys equal.
PLAIN_PURPOSES = {
    "treatment": "To care for you.",
    "payment": "To bill you or your insurer.",
    "operations": "To run the practice: booking, checks, training and safety.",
    "patient_request": "To do what you ask, like send you a copy of your record.",
    "marketing": "To send you news and offers. Only if you say yes.",
    "analytics": "To count visits to our pages. Only if you say yes.",
    "ai_assist": "To let staff use AI help. Only if you say yes.",
    "legal": "When the law says we must, like a court order.",
    "colleague_referral": "If a colleague refers you: one e-mail to tell you. Nothing else.",
}
assert set(PLAIN_PURPOSES) == {p.value for p in Purpose}, "every purpose has its plain words"


@dataclass(frozen=True)
class PurposeLine:
    label: str
    description: str
    only_if_you_agree: bool


@dataclass(frozen=True)
class ProcessorLine:
    name: str
    service: str
    location: str
    health_information: bool


@dataclass(frozen=True)
class RetentionLine:
    label: str
    period: str
    starts: str
    then: str


@dataclass(frozen=True)
class Holdings:
    categories: list[Held]
    purposes: list[PurposeLine]
    processors: list[ProcessorLine]
    retention: list[RetentionLine]


def _filled(*values) -> int:
    return sum(1 for v in values if v not in (None, "", [], {}))


def _length(value) -> int:
    return len(value) if isinstance(value, (list, tuple)) else 0


def _counts(patient, granted: frozenset[str]) -> dict[str, tuple[int, str]]:
    """{category: (items held, unit)} for the categories granted: each field is read only when its
    category is (a parent does not open what the minor controls, and reading it would raise)."""
    from confide.records.models import Document, Photo

    p = patient
    counters = {
        policy.NAME: (lambda: _filled(p.given_name, p.family_name, p.preferred_name), "name"),
        policy.DOB: (lambda: _filled(p.date_of_birth), "date"),
        policy.DEMOGRAPHICS: (lambda: _filled(p.sex, p.gender_identity, p.pronouns, p.language), "detail"),
        policy.MRN: (lambda: _filled(p.medical_record_number), "number"),
        policy.EMAIL: (lambda: _filled(p.email), "address"),
        policy.PHONE: (lambda: _filled(p.phone, p.phone_other), "number"),
        policy.ADDRESS: (lambda: _filled(p.address), "address"),
        policy.EMERGENCY_CONTACT: (lambda: _filled(p.emergency_contact), "contact"),
        policy.GUARDIAN: (lambda: _filled(p.guardian), "contact"),
        policy.BACKGROUND: (lambda: _filled(p.health_background), "note"),
        policy.MEDICATIONS: (lambda: _length(p.medications), "medication"),
        policy.ALLERGIES: (lambda: _length(p.allergies), "allergy"),
        policy.CONDITIONS: (lambda: _length(p.conditions), "condition"),
        policy.LAB_RESULTS: (lambda: _length(p.lab_results), "result"),
        policy.IMMUNIZATIONS: (lambda: _length(p.immunizations), "vaccine"),
        policy.ENCOUNTERS: (lambda: _length(p.encounters) + _length(p.procedures), "item"),
        policy.INTAKE: (lambda: _filled(p.intake_answers), "form"),
        policy.INSURANCE: (lambda: _filled(p.insurance), "plan"),
        policy.DOCUMENTS: (lambda: Document.objects.filter(patient_id=p.pk).count(), "document"),
        policy.PHOTOS: (lambda: Photo.objects.filter(patient_id=p.pk).count(), "photo"),
    }
    return {key: (count(), unit) for key, (count, unit) in counters.items() if key in granted}


def what_we_hold(actor: PatientActor, *, request=None) -> Holdings:
    """The practice's declaration in force, for this patient: the kinds of information the portal
    shows, each with how many items the record holds (one door opening as the patient actor, its
    whole portal grant), the purposes, the services that receive data (and whether health
    information), and how long each kind is kept. Plain words: labels, never category codes."""
    from confide.policy.schema import period_text
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(actor.practice_id)
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, request=request) as chart:
        counts = _counts(chart.patient, chart.categories)
    with tenant_context(practice_id=actor.practice_id):
        choices = consent.event_count(_subject(actor))
    categories = []
    for key, category in declaration.categories.items():
        if category.retired:
            continue
        if key in counts:
            n, unit = counts[key]
            categories.append(Held(category.label, category.description, n, unit))
        elif key == "preferences.consent":
            categories.append(Held(category.label, category.description, choices, "choice"))
    purposes = [PurposeLine(p.label, PLAIN_PURPOSES.get(key, p.description), p.needs_consent) for key, p in declaration.purposes.items()]
    phi = declaration.phi_categories()
    processors = [
        ProcessorLine(p.name, p.service, p.location, bool(declaration.expand(p.categories) & phi))
        for p in declaration.processors if p.in_use
    ]  # fmt: skip
    retention = [RetentionLine(r.label, period_text(r.period), r.starts, r.then) for r in declaration.retention]
    return Holdings(categories, purposes, processors, retention)


# --- who opened my record ------------------------------------------------------------------------
JOB_NAMES = {
    "reminder-job": "Appointment reminders (automatic)",
    "policy-notice-job": "Privacy notice e-mails (automatic)",
    "fhir-import-job": "Record import (automatic)",
    "fhir-export-job": "Your record download (automatic)",
    "consent-evidence": "Saving your privacy choice (automatic)",
    "search-index-job": "Search index (automatic)",
    "access-report-job": "This list of who opened your record (automatic)",
    "rights-request-job": "Your privacy request (automatic)",
    "consult-form": "Your online consultation form (automatic)",
    "age-of-majority-job": "Checking birthdays for parents' access (automatic)",
    "portal-ended-notice-job": "Telling a parent their access ended (automatic)",
    "portal-invite-job": "Sending you an invitation to this portal (automatic)",
    "messaging-send-job": "Sending you a message or a reminder (automatic)",
    "messaging-inbound-job": "Filing a message you sent us (automatic)",
    "feed-initials-job": "Your initials in your clinician's private calendar (automatic)",
    "rights-letter-job": "Keeping a copy of a letter about your privacy request (automatic)",
    "disclosure-job": "Recording a disclosure of your record, for your list of disclosures (automatic)",
    "retention-job": "Working out how long your record is kept, and archiving it (automatic)",  # part retention
    "rights-verify-job": "Confirming who made a privacy request about your record (automatic)",  # part "intake"
    # amend part
    "amendment-job": "Keeping your request to correct your record and the answers to it (automatic)",
    "records-release-job": "A copy of your record opened by someone you sent it to (automatic)",
    "rights-export-job": "Preparing the copy of your record you asked for (automatic)",  # part "export"
}
assert set(JOB_NAMES) == set(SYSTEM_JOBS), "every system job has a name patients can read"
ROLE_LABELS = dict(Role.choices)
REPORT_LIMIT = 100  # rows on the page; the downloads hold every row
PDF_LIMIT = 5000


@dataclass(frozen=True)
class Dates:
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None

    @property
    def query(self) -> str:
        parts = [f"date_from={self.date_from}" if self.date_from else "", f"date_to={self.date_to}" if self.date_to else ""]
        return "&".join(p for p in parts if p)

    def audit(self) -> dict:
        return {"from": self.date_from.isoformat() if self.date_from else "", "to": self.date_to.isoformat() if self.date_to else ""}


def parse_dates(date_from, date_to) -> Dates:
    """From and to (inclusive), each optional, as YYYY-MM-DD: a bad date is an InvalidInput."""

    def one(value, name: str) -> datetime.date | None:
        text = (value or "").strip()
        if not text:
            return None
        try:
            return datetime.date.fromisoformat(text[:10]) if len(text) == 10 else _bad(name)
        except ValueError:
            return _bad(name)

    start, end = one(date_from, "From"), one(date_to, "To")
    if start and end and start > end:
        raise InvalidInput("The From date is after the To date. Please swap them.")
    return Dates(start, end)


def _bad(name: str):
    raise InvalidInput(f"The {name} date is not a date we can read. Use the date picker, or type it as 2026-12-06.")


@dataclass(frozen=True)
class ReportRow:
    when: datetime.datetime
    who: str
    role: str
    what: str
    purpose: str
    categories: str
    parts: tuple[str, ...] = ()  # the same, one label each (the page lists them)
    break_glass: bool = False
    reason: str | None = None  # the typed reason of a break-the-glass opening, where shown
    refused: bool = False


@dataclass(frozen=True)
class OwnActivity:
    who: str
    count: int
    last: datetime.datetime


@dataclass
class AccessReport:
    rows: list[ReportRow]
    own: list[OwnActivity] = field(default_factory=list)
    more: bool = False  # more rows than the page shows (the downloads hold them all)


class _Words:
    """Codes to words for one report: the declaration's labels, staff and portal names."""

    def __init__(self, actor: PatientActor):
        from confide.policy.services import declaration_in_force

        declaration = declaration_in_force(actor.practice_id)
        self.categories = {key: c.label for key, c in declaration.categories.items()}
        self.purposes = {key: p.label for key, p in declaration.purposes.items()}
        self.staff = reports.staff_names(actor.practice_id)

    def row(self, row: reports.AccessRow, reason: str | None = None) -> ReportRow:
        if row.actor_kind == "user":
            who, role = self.staff.get(row.actor_id, "A former member of staff"), ROLE_LABELS.get(row.actor_role, row.actor_role)
        elif row.actor_kind == "system":
            who, role = JOB_NAMES.get(row.actor_id, "An automatic task"), "Automatic"
        else:
            who, role = "Someone not signed in", ""
        return ReportRow(
            when=row.when, who=who, role=role, what=event_label(row.event), purpose=self.purposes.get(row.purpose, row.purpose or "—"),
            categories=", ".join(self.categories.get(c, c) for c in row.categories) or "—",
            parts=tuple(self.categories.get(c, c) for c in row.categories),
            break_glass=row.flagged and row.event == AuditEvent.CHART_OPENED.value, reason=reason,
            refused=row.event == AuditEvent.ACCESS_DENIED.value,
        )  # fmt: skip


def _open_as_patient(actor: PatientActor, request) -> frozenset[str]:
    """Check the account may see this record now (the door re-reads its link); the categories a
    full opening grants it (a representative's lack what the minor controls)."""
    # A representative's grant is the portal's less what the minor controls: the door says which
    # (a full opening; nothing is read from it). The patient's own is the name alone.
    categories = None if actor.representative else {policy.NAME}
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories=categories, request=request) as chart:
        return chart.categories if actor.representative else policy.PORTAL_GRANT


def _reasons(actor: PatientActor, entry_ids: list[int], request) -> dict[int, str]:
    """The typed reasons of these break-the-glass openings, read through the door as the
    registered access-report job (their own `records:chart:opened` entry)."""
    from confide.access.models import BreakGlassReason

    if not entry_ids:
        return {}
    job = ACCESS_REPORT_JOB.for_practice(actor.practice_id)
    with open_chart(job, actor.patient_id, Purpose.PATIENT_REQUEST, categories=job.categories, request=request):
        return {row.audit_entry_id: str(row.reason) for row in BreakGlassReason.objects.filter(audit_entry_id__in=entry_ids, patient_id=actor.patient_id)}


def _own(actor: PatientActor, dates: Dates) -> list[OwnActivity]:
    activity = reports.patient_self_summary(actor.practice_id, actor.patient_id, date_from=dates.date_from, date_to=dates.date_to)
    users = get_user_model().objects.in_bulk([int(a.actor_id) for a in activity if a.actor_id.isdigit()])
    out = []
    for a in activity:
        user = users.get(int(a.actor_id)) if a.actor_id.isdigit() else None
        if a.actor_id == str(actor.user_id):
            who = "You" if not actor.representative else "You (as parent or guardian)"
        elif a.role == "representative":
            who = f"Your parent or guardian ({user.display_name if user else 'a former account'})"
        else:
            who = "The patient, from their own account" if actor.representative else "You, from another account"
        out.append(OwnActivity(who, a.count, a.last))
    return out


def _audit_view(actor: PatientActor, fmt: str, dates: Dates, rows: int, request) -> None:
    with tenant_context(practice_id=actor.practice_id):
        record(
            AuditEvent.ACCESS_REPORT_VIEWED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=actor.patient_id, detail={"format": fmt, **dates.audit(), "rows": rows}, request=request,
        )  # fmt: skip


def _rows(actor: PatientActor, dates: Dates, limit: int | None, request) -> Iterator[ReportRow]:
    grant = _open_as_patient(actor, request)
    words = _Words(actor)
    raw = list(reports.patient_report_rows(actor.practice_id, actor.patient_id, date_from=dates.date_from, date_to=dates.date_to, limit=limit))
    # A break-the-glass reason is shown where the opening stayed within what this account may see
    # (a parent or guardian is not told why someone opened what the minor controls).
    glass = [r.entry_id for r in raw if r.flagged and r.event == AuditEvent.CHART_OPENED.value and set(r.categories) <= grant]
    reasons = _reasons(actor, glass, request)
    return [words.row(r, reasons.get(r.entry_id)) for r in raw]


def access_report(actor: PatientActor, dates: Dates, *, request=None) -> AccessReport:
    rows = list(_rows(actor, dates, REPORT_LIMIT + 1, request))
    own = _own(actor, dates)
    _audit_view(actor, "page", dates, min(len(rows), REPORT_LIMIT), request)
    return AccessReport(rows=rows[:REPORT_LIMIT], own=own, more=len(rows) > REPORT_LIMIT)


CSV_HEADER = ("date and time (UTC)", "who", "role", "what", "why", "which parts of the record", "break the glass", "reason given")


def access_csv_lines(actor: PatientActor, dates: Dates, *, request=None) -> Iterator[str]:
    """The filtered report as CSV lines (cells a spreadsheet would evaluate escaped), the
    patient's own openings summarised at the end. Audited before the first line is sent. The
    rows are read while the request holds its practice context (one patient's history: small
    beside a practice's log); the CSV text is generated line by line as the response streams."""
    rows = _rows(actor, dates, None, request)
    own = _own(actor, dates)
    _audit_view(actor, "csv", dates, len(rows), request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([reports.csv_safe(c) for c in cells])
        return buffer.getvalue()

    def lines() -> Iterator[str]:
        yield line(CSV_HEADER)
        for r in rows:
            when = r.when.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M")
            yield line((when, r.who, r.role, r.what, r.purpose, r.categories, "yes" if r.break_glass else "", r.reason or ""))
        for a in own:
            yield line((a.last.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M"), a.who, "In the portal", f"Opened it {a.count} times (latest shown)", "", "", "", ""))

    return lines()


def access_pdf(actor: PatientActor, dates: Dates, *, practice_name: str, request=None) -> bytes:
    """The filtered report as a PDF (WeasyPrint, from templates/portal/access_report_pdf.html)."""
    from django.template.loader import render_to_string
    from weasyprint import HTML

    rows = list(_rows(actor, dates, PDF_LIMIT + 1, request))
    own = _own(actor, dates)
    _audit_view(actor, "pdf", dates, min(len(rows), PDF_LIMIT), request)
    html = render_to_string("portal/access_report_pdf.html", {
        "rows": rows[:PDF_LIMIT], "more": len(rows) > PDF_LIMIT, "own": own, "dates": dates, "practice_name": practice_name,
        "made_at": timezone.now(),
    })  # fmt: skip
    # No base URL: the template carries its own styles and fetches nothing.
    return HTML(string=html, base_url=None).write_pdf()


def download_filename(kind: str, today: datetime.date) -> str:
    return f"who-opened-my-record-{today:%Y%m%d}.{kind}"


# --- disc part: "Disclosures of your record" (DSC1) ------------------------------------------------
def disclosures_of_record(actor: PatientActor, *, request=None):
    """The accounting of disclosures of the current record (six years; excluded bases left out):
    the door is opened as the patient first (the account's link re-read: an ended link or another
    record answers NotFound), then as the `disclosure-job` for the entries alone, as the reasons
    of "who opened my record" are read (PORTAL_GRANT stays without operations.disclosures:
    the job reads only the current record's rows, and its opening is audited)."""
    from confide.disclosures.report import accounting_for_patient

    _open_as_patient(actor, request)
    return accounting_for_patient(practice_id=actor.practice_id, patient_id=actor.patient_id, request=request)


def disclosures_pdf(actor: PatientActor, *, practice_name: str, request=None) -> bytes:
    from confide.disclosures.report import render_pdf

    return render_pdf(disclosures_of_record(actor, request=request), practice_name=practice_name)
