"""Reading the audit log: the privacy officer's viewer and CSV export, the per-patient access
report, and the security-event lists of the accounts pages.

A practice sees its own chain, plus the platform-chain entries (sign-ins, MFA, re-authentication)
of its members: the privacy officer needs to see who signed in, not only what happened inside.
Never another practice's chain. Every function here only reads; authorization is the caller's
permission check (the route policy) plus the `actor.has(...)` checks below.

Entries about psychotherapy notes (AUTHOR_ONLY_CATEGORIES) are their author's alone, as the notes
are (HIPAA keeps them apart; the notes panel promises "nobody else can tell whether you keep
any"): the viewer, its CSV export and the per-patient access report show them only to the staff
member who made them; the viewer tells everyone else how many there are in the period shown,
with no patient, no person and no event (and not even that once a patient, a person or an event
is chosen). They stay whole in the chain: `confide audit verify` checks them, and the compliance
export (`compliance_entries`, `confide audit export`, run by the operator) holds them in full.
"""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet, Subquery

from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent, event_label, outcome_label
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden
from confide.core.permissions import Perm, Role

ROLE_LABELS = dict(Role.choices)

PAGE_SIZE = 50

# Account and practice security events: what the "security events" pages list (the audit viewer
# lists everything).
SECURITY_EVENTS = frozenset(e.value for e in AuditEvent if e.value.split(":", 1)[0] in {"accounts", "core", "vault"})

# Categories whose entries only their actor sees on screen: the chart door's psychotherapy notes
# (confide/access/policy.py PSYCHOTHERAPY_NOTES; a test keeps the two equal: audit sits below access).
AUTHOR_ONLY_CATEGORIES = frozenset({"health.psychotherapy_notes"})


def about_author_only() -> Q:
    """Entries whose categories include an author-only one. (A JSON list: matched on its text,
    quotes included, which works on SQLite and PostgreSQL alike.)"""
    query = Q(pk__in=[])
    for category in AUTHOR_ONLY_CATEGORIES:
        query |= Q(categories__icontains=f'"{category}"')
    return query


def shown_to(user_id) -> Q:
    """Everything but the author-only entries of someone other than `user_id` (None: of anyone)."""
    own = Q(actor_kind="user", actor_id=str(user_id)) if user_id is not None else Q(pk__in=[])
    return ~about_author_only() | own


# --- Scope ------------------------------------------------------------------------------------
# People are Django's user model here (`get_user_model()`): the log sits below accounts and does
# not import it (docs/architecture.md, "Layers"); who belongs to a practice is the user model's
# manager's answer (`members_of`).
def member_user_ids(practice_id: uuid.UUID) -> list[str]:
    """User ids (as the log stores them) of everyone with a membership in the practice, active
    or not: a former member's sign-ins stay visible to the practice they belonged to."""
    return [str(pk) for pk, _, _ in get_user_model().objects.members_of(practice_id)]


def practice_members(actor: StaffActor) -> list[tuple[str, str]]:
    """(user id as the log stores it, display name) of the practice's members, for the user filter."""
    if not actor.has(Perm.AUDIT_LOG_VIEW):
        raise Forbidden(Perm.AUDIT_LOG_VIEW)
    rows = get_user_model().objects.members_of(actor.practice_id)
    return sorted(((str(pk), name if active else f"{name} (former member)") for pk, name, active in rows), key=lambda r: r[1].casefold())


def practice_scope(practice_id: uuid.UUID) -> Q:
    """The practice's chain, plus platform-chain entries by or about its members."""
    members = member_user_ids(practice_id)
    about_members = Q(actor_kind="user", actor_id__in=members) | Q(detail__user_id__in=members)
    return Q(chain=str(practice_id)) | (Q(chain=PLATFORM_CHAIN) & about_members)


def _newest_first(queryset: QuerySet) -> QuerySet:
    return queryset.order_by("-at", "-id")


# --- People -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntryView:
    """An entry with the staff accounts it names resolved for display (names of staff), and the
    patient's name where the viewer may see it (`patient_names`, through the door above)."""

    entry: AuditEntry
    account: object | None  # the affected account (detail["user_id"]), a User
    actor: object | None  # the acting account, a User, when the actor is a user
    patient_name: str | None = None

    @property
    def acted_by_someone_else(self) -> bool:
        return self.actor is not None and (self.account is None or self.actor.pk != self.account.pk)

    @property
    def event_label(self) -> str:
        return event_label(self.entry.event)

    @property
    def outcome_label(self) -> str:
        return outcome_label(self.entry.event, self.entry.outcome)

    @property
    def succeeded(self) -> bool:
        return self.outcome_label == outcome_label(AuditEvent.CHART_OPENED, "ok")

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.entry.actor_role, self.entry.actor_role)

    @property
    def actor_name(self) -> str:
        return actor_name(self.entry, self.actor)


def actor_name(entry: AuditEntry, user) -> str:
    """Who acted, in words: a member's name, a system job, a patient, or nobody signed in."""
    if user is not None:
        return user.display_name
    if entry.actor_kind == "user":
        return "Former staff member"
    if entry.actor_kind == "system":
        return f"System job ({entry.actor_id})" if entry.actor_id else "System"
    if entry.actor_kind == "patient":
        return "The patient"
    if entry.actor_kind == "token":
        return "API token"
    return "Not signed in"


# --- Patient names: a port filled from above -------------------------------------------------
# The log sits below the records package that holds patients, so it cannot read a name itself.
# The records package registers a function (confide/records/audit_names.py) that reads the names
# of a page's patients through the chart door — one list opening, purpose operations, the name
# category only, audited — and returns those the viewer may see (none for a role without the name).
_patient_namer = None


def register_patient_namer(namer) -> None:
    """`namer(actor, patient_ids, request) -> {patient id: name}`."""
    global _patient_namer
    _patient_namer = namer


def patient_names(actor: StaffActor, patient_ids: Iterable, request=None) -> dict:
    wanted = sorted({pk for pk in patient_ids if pk is not None}, key=str)
    if not wanted or _patient_namer is None:
        return {}
    return dict(_patient_namer(actor, wanted, request))


def _user_pk(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def with_people(entries: Iterable[AuditEntry], patient_names: dict | None = None) -> list[EntryView]:
    User = get_user_model()
    entries = list(entries)
    wanted = {_user_pk(e.detail.get("user_id")) for e in entries if isinstance(e.detail, dict)}
    wanted |= {_user_pk(e.actor_id) for e in entries if e.actor_kind == "user"}
    users = User.objects.in_bulk([pk for pk in wanted if pk is not None])
    views = []
    for e in entries:
        account = users.get(_user_pk(e.detail.get("user_id"))) if isinstance(e.detail, dict) else None
        actor = users.get(_user_pk(e.actor_id)) if e.actor_kind == "user" else None
        views.append(EntryView(entry=e, account=account, actor=actor, patient_name=(patient_names or {}).get(e.subject_id)))
    return views


# --- Security-event lists (accounts pages) -------------------------------------------------------
def practice_security_events(actor: StaffActor, limit: int = 200) -> list[EntryView]:
    if not actor.has(Perm.SECURITY_EVENTS_VIEW):
        raise Forbidden(Perm.SECURITY_EVENTS_VIEW)
    queryset = AuditEntry.objects.filter(practice_scope(actor.practice_id), event__in=SECURITY_EVENTS)
    return with_people(_newest_first(queryset)[:limit])


def own_security_events(user, limit: int = 20) -> list[EntryView]:
    """The signed-in user's own recent security events, on any chain: by them or about them."""
    mine = Q(actor_kind="user", actor_id=str(user.pk)) | Q(detail__user_id=str(user.pk))
    return with_people(_newest_first(AuditEntry.objects.filter(mine, event__in=SECURITY_EVENTS))[:limit])


# --- The privacy officer's viewer ----------------------------------------------------------------
@dataclass(frozen=True)
class LogFilter:
    """Validated filters (confide/audit/forms.py builds one); None means "any"."""

    patient_id: uuid.UUID | None = None
    user_id: str | None = None  # an actor id as stored (a user's pk as text)
    event: AuditEvent | None = None
    date_from: datetime.date | None = None  # inclusive, UTC
    date_to: datetime.date | None = None  # inclusive, UTC


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def filtered_entries(actor: StaffActor, filters: LogFilter) -> QuerySet:
    """The practice's entries (see `practice_scope`) that match the filters and that this actor
    may see (`shown_to`), newest first."""
    if not actor.has(Perm.AUDIT_LOG_VIEW):
        raise Forbidden(Perm.AUDIT_LOG_VIEW)
    return _newest_first(_matching(AuditEntry.objects.filter(practice_scope(actor.practice_id), shown_to(actor.user_id)), filters))


def author_only_count(actor: StaffActor, filters: LogFilter) -> int | None:
    """How many entries about psychotherapy notes of others the filtered view leaves out: by date
    only (the practice's chain, all staff, all events). None once a patient, a person or an event
    is chosen: a count then would say about whom, whose, or what."""
    if not actor.has(Perm.AUDIT_LOG_VIEW):
        raise Forbidden(Perm.AUDIT_LOG_VIEW)
    if filters.patient_id is not None or filters.user_id is not None or filters.event is not None:
        return None
    hidden = AuditEntry.objects.filter(chain=str(actor.practice_id)).filter(about_author_only()).exclude(actor_kind="user", actor_id=str(actor.user_id))
    return _matching(hidden, filters).count()


def _matching(queryset: QuerySet, filters: LogFilter) -> QuerySet:
    if filters.patient_id is not None:
        queryset = queryset.filter(subject_id=filters.patient_id)
    if filters.user_id is not None:
        queryset = queryset.filter(actor_kind="user", actor_id=filters.user_id)
    if filters.event is not None:
        queryset = queryset.filter(event=filters.event.value)
    if filters.date_from is not None:
        queryset = queryset.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to is not None:
        queryset = queryset.filter(at__lt=_day_start(filters.date_to + datetime.timedelta(days=1)))
    return queryset


def audit_log_page(actor: StaffActor, filters: LogFilter, page: int = 1, *, request=None) -> tuple[Page, list[EntryView], int | None]:
    """One page (PAGE_SIZE entries) of the filtered log (a page number past the end gives the
    last page), and how many entries about others' psychotherapy notes it leaves out (None: not said).
    The page's patients are named where the viewer may see names: one list opening for the page
    (`patient_names`), never one per row."""
    paginator = Paginator(filtered_entries(actor, filters), PAGE_SIZE)
    current = paginator.get_page(page)
    entries = list(current.object_list)
    wanted = {e.subject_id for e in entries} | ({filters.patient_id} if filters.patient_id else set())
    names = patient_names(actor, wanted, request)
    return current, with_people(entries, names), author_only_count(actor, filters)


# --- CSV export -----------------------------------------------------------------------------
# The first columns are for people (the event, who, the role and the result in words; staff by
# name); the rest are the entry as stored, for matching against `confide audit verify`.
READABLE_COLUMNS = ("what", "by", "role", "result", "account")
CSV_COLUMNS = READABLE_COLUMNS + (
    "at", "chain", "seq", "event", "actor_kind", "actor_id", "actor_role", "purpose", "subject_id",
    "resource_ids", "categories", "fields_changed", "outcome", "reason", "flagged", "detail",
    "request_id", "ip_address", "user_agent", "hash",
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A cell a spreadsheet will not evaluate: text starting with = + - @ tab or CR gets a leading
    single quote (OWASP "CSV injection"). The user agent, for one, is whatever a client sent."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _cell(entry: AuditEntry, name: str, people: dict[str, str]) -> str:
    import json

    if name == "what":
        return event_label(entry.event)
    if name == "by":
        user = people.get(entry.actor_id) if entry.actor_kind == "user" else None
        return user if user is not None else actor_name(entry, None)
    if name == "role":
        return ROLE_LABELS.get(entry.actor_role, entry.actor_role)
    if name == "result":
        return outcome_label(entry.event, entry.outcome)
    if name == "account":
        account = entry.detail.get("user_id") if isinstance(entry.detail, dict) else None
        return people.get(str(account), "") if account is not None else ""
    value = getattr(entry, name)
    if name == "at":
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def export_csv_rows(actor: StaffActor, filters: LogFilter) -> Iterator[str]:
    """The filtered entries this actor may see as CSV text, a header line then one line per
    entry, streamed."""
    return _csv_rows(filtered_entries(actor, filters), staff_names(actor.practice_id))


def compliance_entries(practice_id: uuid.UUID, filters: LogFilter) -> QuerySet:
    """The compliance export's entries: the viewer's scope and filters, and every entry about
    psychotherapy notes in full. For `confide audit export` only (run by the operator, in the
    practice's context; it records that it ran): never behind a web page."""
    return _newest_first(_matching(AuditEntry.objects.filter(practice_scope(practice_id)), filters))


def is_author_only(entry: AuditEntry) -> bool:
    return bool(AUTHOR_ONLY_CATEGORIES.intersection(entry.categories or ()))


def staff_names(practice_id: uuid.UUID) -> dict[str, str]:
    """Display names of the practice's members, active or not, keyed by user id as the log stores it."""
    return {str(pk): name for pk, name, _ in get_user_model().objects.members_of(practice_id)}


def _csv_rows(queryset: QuerySet, people: dict[str, str]) -> Iterator[str]:
    return csv_lines(queryset.iterator(chunk_size=500), people)


def csv_lines(entries: Iterable[AuditEntry], people: dict[str, str] | None = None) -> Iterator[str]:
    """A header line, then one CSV line per entry (cells a spreadsheet would evaluate escaped).
    `people`: staff names by user id (`staff_names`), for the "by" and "account" columns."""
    people = people or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(c) for c in cells])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for entry in entries:
        yield line(_cell(entry, name, people) for name in CSV_COLUMNS)


def export_filename(actor: StaffActor, today: datetime.date) -> str:
    """No PHI and no filter values: the practice's slug and the day."""
    from confide.core.models import Practice

    slug = Practice.objects.filter(id=actor.practice_id).values_list("slug", flat=True).first() or "practice"
    return f"audit-log-{slug}-{today:%Y%m%d}.csv"


# --- Per-patient access report (for the patient portal) ----------------------------------------
@dataclass(frozen=True)
class AccessRow:
    when: datetime.datetime
    actor_id: str
    actor_kind: str
    actor_role: str
    purpose: str
    event: str
    categories: tuple[str, ...]
    entry_id: int | None = None
    flagged: bool = False  # a break-the-glass opening (its typed reason is kept by the door, encrypted)
    outcome: str = "ok"


def patient_access_report(practice_id: uuid.UUID, patient_id: uuid.UUID, *, shown_to_user) -> list[AccessRow]:
    """Who opened this patient's record, when, in what role, for what purpose: every entry of the
    practice's chain about the patient, newest first, but for entries about psychotherapy notes
    not made by `shown_to_user` (a user id; None: a reader who made none, such as the patient).
    Ids, roles and categories only."""
    return [_access_row(e) for e in _about_patient(practice_id, patient_id, shown_to_user).order_by("-at", "-id").iterator(chunk_size=500)]


# What a row of the report needs: the page query loads these columns only (never resource_ids,
# detail or the hashes, which grow with the entry).
_ACCESS_COLUMNS = ("id", "at", "actor_id", "actor_kind", "actor_role", "purpose", "event", "categories", "flagged", "outcome")


def _about_patient(practice_id: uuid.UUID, patient_id: uuid.UUID, shown_to_user) -> QuerySet:
    return AuditEntry.objects.filter(shown_to(shown_to_user), chain=str(practice_id), subject_id=patient_id).only(*_ACCESS_COLUMNS)


def _access_row(e: AuditEntry) -> AccessRow:
    return AccessRow(
        when=e.at, actor_id=e.actor_id, actor_kind=e.actor_kind, actor_role=e.actor_role,
        purpose=e.purpose, event=e.event, categories=tuple(e.categories), entry_id=e.id, flagged=e.flagged, outcome=e.outcome,
    )  # fmt: skip


@dataclass(frozen=True)
class AccessPage:
    """One page of the access report, newest first. `older` / `newer`: the entry ids to page on
    from (`before=` / `after=`), None at either end."""

    rows: list[AccessRow]
    older: int | None
    newer: int | None


def patient_access_page(
    practice_id: uuid.UUID, patient_id: uuid.UUID, *, shown_to_user, size: int, before: int | None = None, after: int | None = None
) -> AccessPage:
    """A page of `patient_access_report`, paged in the database on (at, id): the entries older
    than entry `before`, or newer than entry `after`, or the newest. One query of at most
    size + 1 rows, whatever the patient's history holds — the entry named by a cursor is found
    in a subquery of the same statement, and only among this patient's entries shown to this
    reader (any other id pages to nothing). Ordered by time, not by `seq`: an entry's place in the
    chain may be assigned after it is written (by the sealer), its time is set when it is."""
    entries = _about_patient(practice_id, patient_id, shown_to_user)
    cursor_id = before if before is not None else after
    if cursor_id is not None:
        at = Subquery(entries.filter(pk=cursor_id).values("at")[:1])
        if before is not None:
            entries = entries.filter(Q(at__lt=at) | Q(at=at, id__lt=cursor_id))
        else:
            entries = entries.filter(Q(at__gt=at) | Q(at=at, id__gt=cursor_id))
    if after is not None:  # the page just newer than `after`: read upwards, show newest first
        found = list(entries.order_by("at", "id")[: size + 1])
        more_newer = len(found) > size
        rows = [_access_row(e) for e in reversed(found[:size])]
        return AccessPage(rows=rows, older=rows[-1].entry_id if rows else None, newer=rows[0].entry_id if rows and more_newer else None)
    found = list(entries.order_by("-at", "-id")[: size + 1])
    rows = [_access_row(e) for e in found[:size]]
    more_older = len(found) > size
    return AccessPage(
        rows=rows, older=rows[-1].entry_id if rows and more_older else None, newer=rows[0].entry_id if rows and before is not None else None
    )


# --- The patient's own report (the portal's "who opened my record") --------------------------------
def _in_dates(queryset: QuerySet, date_from: datetime.date | None, date_to: datetime.date | None) -> QuerySet:
    return _matching(queryset, LogFilter(date_from=date_from, date_to=date_to))


def patient_report_rows(
    practice_id: uuid.UUID, patient_id: uuid.UUID, *, date_from: datetime.date | None = None, date_to: datetime.date | None = None,
    limit: int | None = None,
) -> Iterator[AccessRow]:
    """What the patient's report lists, newest first: every entry about the patient in the dates
    (inclusive, UTC) but the patient's own portal accounts' (summarised by `patient_self_summary`,
    so a patient's page views do not bury who else opened the record) and those about
    psychotherapy notes (their author's alone). Streamed; `limit` caps a page."""
    entries = _in_dates(_about_patient(practice_id, patient_id, None), date_from, date_to).exclude(actor_kind="patient")
    entries = entries.order_by("-at", "-id")
    if limit is not None:
        entries = entries[:limit]
    return (_access_row(e) for e in entries.iterator(chunk_size=500))


@dataclass(frozen=True)
class PortalActivity:
    actor_id: str  # the portal account's id as the log stores it
    role: str  # self | representative
    count: int
    last: datetime.datetime


def patient_self_summary(
    practice_id: uuid.UUID, patient_id: uuid.UUID, *, date_from: datetime.date | None = None, date_to: datetime.date | None = None
) -> list[PortalActivity]:
    """The portal accounts' own entries about the record in the dates, one line per account and
    role: how many, and the latest."""
    from django.db.models import Count, Max

    entries = _in_dates(_about_patient(practice_id, patient_id, None), date_from, date_to).filter(actor_kind="patient")
    rows = entries.order_by().values("actor_id", "actor_role").annotate(n=Count("id"), last=Max("at"))
    return sorted(
        (PortalActivity(row["actor_id"], row["actor_role"], row["n"], row["last"]) for row in rows), key=lambda a: a.last, reverse=True
    )
