"""Reading the audit log: the privacy officer's viewer and CSV export, the per-patient access
report, and the security-event lists of the accounts pages.

A practice sees its own chain, plus the platform-chain entries (sign-ins, MFA, re-authentication)
of its members: the privacy officer needs to see who signed in, not only what happened inside.
Never another practice's chain. Every function here only reads; authorization is the caller's
permission check (the route policy) plus the `actor.has(...)` checks below.
"""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden
from confide.core.permissions import Perm

PAGE_SIZE = 50

# Account and practice security events: what the "security events" pages list (the audit viewer
# lists everything).
SECURITY_EVENTS = frozenset(e.value for e in AuditEvent if e.value.split(":", 1)[0] in {"accounts", "core", "vault"})


# --- Scope ------------------------------------------------------------------------------------
def member_user_ids(practice_id: uuid.UUID) -> list[str]:
    """User ids (as the log stores them) of everyone with a membership in the practice, active
    or not: a former member's sign-ins stay visible to the practice they belonged to."""
    from confide.accounts.models import Membership
    from confide.core.tenancy import tenant_context

    with tenant_context(practice_id=practice_id):
        return [str(pk) for pk in Membership.objects.filter(practice_id=practice_id).values_list("user_id", flat=True)]


def practice_members(actor: StaffActor) -> list[tuple[str, str]]:
    """(user id as the log stores it, display name) of the practice's members, for the user filter."""
    from confide.accounts.models import Membership

    if not actor.has(Perm.AUDIT_LOG_VIEW):
        raise Forbidden(Perm.AUDIT_LOG_VIEW)
    rows = Membership.objects.filter(practice_id=actor.practice_id).values_list("user_id", "user__display_name", "is_active")
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
    """An entry with the staff accounts it names resolved for display (names of staff, never of patients)."""

    entry: AuditEntry
    account: object | None  # the affected account (detail["user_id"]), a User
    actor: object | None  # the acting account, a User, when the actor is a user

    @property
    def acted_by_someone_else(self) -> bool:
        return self.actor is not None and (self.account is None or self.actor.pk != self.account.pk)


def _user_pk(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def with_people(entries: Iterable[AuditEntry]) -> list[EntryView]:
    from confide.accounts.models import User

    entries = list(entries)
    wanted = {_user_pk(e.detail.get("user_id")) for e in entries if isinstance(e.detail, dict)}
    wanted |= {_user_pk(e.actor_id) for e in entries if e.actor_kind == "user"}
    users = User.objects.in_bulk([pk for pk in wanted if pk is not None])
    views = []
    for e in entries:
        account = users.get(_user_pk(e.detail.get("user_id"))) if isinstance(e.detail, dict) else None
        actor = users.get(_user_pk(e.actor_id)) if e.actor_kind == "user" else None
        views.append(EntryView(entry=e, account=account, actor=actor))
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
    """The practice's entries (see `practice_scope`) that match the filters, newest first."""
    if not actor.has(Perm.AUDIT_LOG_VIEW):
        raise Forbidden(Perm.AUDIT_LOG_VIEW)
    queryset = AuditEntry.objects.filter(practice_scope(actor.practice_id))
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
    return _newest_first(queryset)


def audit_log_page(actor: StaffActor, filters: LogFilter, page: int = 1) -> tuple[Page, list[EntryView]]:
    """One page (PAGE_SIZE entries) of the filtered log; a page number past the end gives the last page."""
    paginator = Paginator(filtered_entries(actor, filters), PAGE_SIZE)
    current = paginator.get_page(page)
    return current, with_people(current.object_list)


# --- CSV export -----------------------------------------------------------------------------
CSV_COLUMNS = (
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


def _cell(entry: AuditEntry, name: str) -> str:
    import json

    value = getattr(entry, name)
    if name == "at":
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def export_csv_rows(actor: StaffActor, filters: LogFilter) -> Iterator[str]:
    """The filtered entries as CSV text, a header line then one line per entry, streamed."""
    queryset = filtered_entries(actor, filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(c) for c in cells])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for entry in queryset.iterator(chunk_size=500):
        yield line(_cell(entry, name) for name in CSV_COLUMNS)


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


def patient_access_report(practice_id: uuid.UUID, patient_id: uuid.UUID) -> list[AccessRow]:
    """Who opened this patient's record, when, in what role, for what purpose: every entry of the
    practice's chain about the patient, newest first. Ids, roles and categories only."""
    queryset = AuditEntry.objects.filter(chain=str(practice_id), subject_id=patient_id).order_by("-seq")
    return [
        AccessRow(
            when=e.at, actor_id=e.actor_id, actor_kind=e.actor_kind, actor_role=e.actor_role,
            purpose=e.purpose, event=e.event, categories=tuple(e.categories),
        )  # fmt: skip
        for e in queryset.iterator(chunk_size=500)
    ]
