"""The deletion plan (RTS4) and the retention dates the engine keeps (RET2).

    compute_plan(practice_id=…, patient_id=…, request=None)   -> DeletionPlan
    retention_rule(declaration)                               -> (rule id, period)
    retain_until(declaration, last_service_on, born)          -> (date, from_majority)
    last_service_on(patient_id)                               -> date | None

What a deletion erases at once, what it keeps archived and until when, and what it cannot
reach, computed from the declaration in force:

* **erased now**: every group of data no retention rule with a fixed period covers (portal
  access and its sessions, notification preferences, marketing lists, the message threads when
  the declaration keeps communications only while active, pending booking requests and
  waiting-list entries: they never became care);
* **archived until a date**: what the declaration's medical-records rule covers (identity,
  contact, scheduling, health, money) and what other fixed-period rules keep (the consent
  history, security records), restricted: the door opens it only for a legal duty or the
  patient's own request. The date: the rule's period from the last service (the latest
  appointment held, note or document); for a patient who was a minor at the last service, from
  the 18th birthday when that is later (the practice's minors rule: MINORS_FROM_MAJORITY);
* **cannot be reached**: what was already disclosed to others (the accounting of disclosures:
  recipients and dates).

The plan reads the date of birth through the door as the `retention-job` (one audited opening)
and the disclosures through the disclosure job (audited); counts come from ids only.
"""

from __future__ import annotations

import calendar
import datetime
import re
import uuid
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Max
from django.utils import timezone

from confide.access.door import RETENTION_JOB, open_chart
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.records.majority import MAJORITY
from confide.retention.models import HoldReason, LegalHold

# A minor's records are kept the period from the 18th birthday when that ends later than the
# period from the last service (most states' rule for minors' medical records).
MINORS_FROM_MAJORITY = True
MEDICAL_RULE = "medical-records"
DEFAULT_PERIOD = "7y"
_PERIOD = re.compile(r"^(?P<n>\d+)(?P<unit>[dmy])$")


# --- the period -------------------------------------------------------------------------------------
def add_period(day: datetime.date, period: str) -> datetime.date:
    """`day` plus a fixed period ("90d", "18m", "7y"); 29 February becomes 28 February."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"not a fixed period: {period}")
    n, unit = int(match.group("n")), match.group("unit")
    if unit == "d":
        return day + datetime.timedelta(days=n)
    months = n * 12 if unit == "y" else n
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _fixed(period: str) -> bool:
    return bool(_PERIOD.match(period or ""))


def retention_rule(declaration) -> tuple[str, str]:
    """The rule that keeps medical records: `medical-records`, else the longest fixed-period rule
    covering health data; the shipped default (7 years) when the declaration has neither."""
    rules = list(getattr(declaration, "retention", []) or [])
    for rule in rules:
        if rule.id == MEDICAL_RULE and _fixed(rule.period):
            return rule.id, rule.period
    health = [r for r in rules if _fixed(r.period) and any(c == "health" or c.startswith("health") for c in r.categories)]
    if health:
        rule = max(health, key=lambda r: add_period(datetime.date(2000, 1, 1), r.period))
        return rule.id, rule.period
    return MEDICAL_RULE, DEFAULT_PERIOD


def _covers(rule_category: str, category: str) -> bool:
    return category == rule_category or category.startswith(rule_category + ".")


def kept_by(declaration, category: str | None) -> str | None:
    """The id of a fixed-period rule that keeps `category` after the account closes, or None."""
    if category is None:
        return None
    for rule in getattr(declaration, "retention", []) or []:
        if not _fixed(rule.period) or rule.id in ("backups", "telehealth-recordings", "colleague-referrals"):
            continue  # backups and short-lived rules do not keep a closed account's data
        if any(_covers(c, category) for c in rule.categories):
            return rule.id
    return None


def _majority(born: datetime.date) -> datetime.date:
    try:
        return born.replace(year=born.year + MAJORITY)
    except ValueError:  # 29 February: of age on 1 March (records/majority.py)
        return datetime.date(born.year + MAJORITY, 3, 1)


def retain_until(declaration, last_service: datetime.date, born: datetime.date | None) -> tuple[datetime.date, bool]:
    """The last day the archive keeps the record, and whether it ran from the 18th birthday."""
    _, period = retention_rule(declaration)
    until = add_period(last_service, period)
    if MINORS_FROM_MAJORITY and born is not None:
        majority = _majority(born)
        if majority > last_service:  # a minor at the last service
            from_majority = add_period(majority, period)
            if from_majority > until:
                return from_majority, True
    return until, False


def last_service_on(patient_id) -> datetime.date | None:
    """The latest day of care: an appointment held (not cancelled, not missed, not in the
    future), a progress or psychotherapy note, a document or photo. Read from dates and ids."""
    now = timezone.now()
    Appointment = apps.get_model("scheduling.Appointment")
    held = Appointment.objects.filter(patient_id=patient_id, starts_at__lte=now).exclude(status__in=["cancelled", "no_show"])
    candidates = [held.aggregate(m=Max("starts_at"))["m"]]
    for label in ("records.ProgressNote", "records.PsychotherapyNote", "records.Document", "records.Photo"):
        candidates.append(apps.get_model(label).objects.filter(patient_id=patient_id).aggregate(m=Max("created_at"))["m"])
    found = [timezone.localdate(c) for c in candidates if c is not None]
    return max(found) if found else None


# --- what a deletion does -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    key: str
    label: str
    count: int
    rule: str = ""  # the declaration's rule that keeps it (archived groups)


@dataclass(frozen=True)
class Unreachable:
    recipient: str
    disclosed_on: datetime.date
    basis_label: str


@dataclass(frozen=True)
class Hold:
    id: uuid.UUID
    reason: str
    reason_label: str
    set_at: datetime.datetime


@dataclass
class DeletionPlan:
    patient_id: uuid.UUID
    erase: list[Group] = field(default_factory=list)
    archive: list[Group] = field(default_factory=list)
    unreachable: list[Unreachable] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    last_service_on: datetime.date | None = None
    retain_until: datetime.date | None = None
    rule: str = ""
    from_majority: bool = False

    @property
    def blocked(self) -> bool:
        return bool(self.holds)

    @property
    def partial(self) -> bool:
        """Part of the request is denied (kept by law, or beyond reach): the letter says why."""
        return bool(self.archive or self.unreachable)


# Groups a deletion erases unless a fixed-period rule keeps their category: (key, label,
# category or None for "never kept once the account closes", counter).
def _count(label: str, **filters) -> int:
    return apps.get_model(label).objects.filter(**filters).count()


def _portal_links(patient_id) -> int:
    PortalLink = apps.get_model("accounts.PortalLink")
    return PortalLink.objects.filter(patient_id=patient_id, is_active=True).count()


ERASABLE = (
    ("portal", "Portal access (accounts, links and their sign-in sessions)", None, _portal_links),
    ("notifications", "Notification preferences", "preferences.notifications",
     lambda pk: _count("messaging.NotificationPreference", patient_id=pk)),
    ("marketing", "Marketing lists", "preferences.marketing", lambda pk: _count("messaging.CampaignRecipient", patient_id=pk)),
    ("messages", "Message threads (texts, e-mails, portal messages) and their delivery records", "communications.messages",
     lambda pk: _count("messaging.Message", patient_id=pk)),
    ("bookings", "Booking requests and waiting-list places not yet turned into care", None,
     lambda pk: _count("directory.BookingRequest", patient_id=pk, status="pending") + _count("scheduling.WaitlistEntry", patient_id=pk)),
    ("future", "Appointments not yet held (cancelled)", None,
     lambda pk: _count("scheduling.Appointment", patient_id=pk, starts_at__gt=timezone.now(), status__in=["requested", "booked", "confirmed"])),
)  # fmt: skip

# What stays, archived: (key, label, category the keeping rule must cover, counter).
ARCHIVED = (
    ("chart", "The chart: identity, contact details, insurance and the clinical lists", "health", lambda pk: 1),
    ("notes", "Clinical notes and addenda", "health.notes",
     lambda pk: _count("records.ProgressNote", patient_id=pk) + _count("records.PsychotherapyNote", patient_id=pk)),
    ("files", "Documents and photos", "health.documents",
     lambda pk: _count("records.Document", patient_id=pk) + _count("records.Photo", patient_id=pk)),
    ("appointments", "Appointments held", "scheduling.appointments",
     lambda pk: _count("scheduling.Appointment", patient_id=pk, starts_at__lte=timezone.now())),
    ("consent", "The history of the patient's choices (consents and withdrawals)", "preferences.consent",
     lambda pk: _count("consent.ConsentEvent", patient_id=pk)),
    ("disclosures", "The accounting of disclosures", "operations.disclosures", lambda pk: _count("disclosures.Disclosure", patient_id=pk)),
    ("requests", "Privacy requests and the letters about them", "operations.requests",
     lambda pk: _count("rights.RightsRequest", patient_id=pk)),
)  # fmt: skip
# Kept whatever the declaration says: the law asks for them (the accounting: HIPAA §164.528,
# six years; the record of the requests themselves: CCPA regulations §7101, 24 months).
ALWAYS_KEPT = {"disclosures": "accounting-of-disclosures", "requests": "records-of-requests"}


def open_holds(patient_id) -> list[Hold]:
    rows = LegalHold.objects.filter(patient_id=patient_id, released_at__isnull=True)
    return [Hold(id=h.pk, reason=h.reason, reason_label=HoldReason(h.reason).label, set_at=h.set_at) for h in rows]


def read_born(practice_id, patient_id, purpose: Purpose, request=None) -> datetime.date | None:
    """The date of birth, through the door as the retention job (one audited opening)."""
    job = RETENTION_JOB.for_practice(practice_id)
    with open_chart(job, patient_id, purpose, categories=job.categories, request=request) as chart:
        return chart.patient.date_of_birth


def compute_plan(*, practice_id, patient_id, request=None) -> DeletionPlan:
    """The plan for deleting this patient's data (see the module docstring). Reads no PHI but
    the date of birth and the disclosures' recipients, each through an audited opening."""
    from confide.disclosures.services import accounting_entries
    from confide.policy.services import declaration_in_force

    now = timezone.now()
    declaration = declaration_in_force(practice_id, now)
    born = read_born(practice_id, patient_id, Purpose.PATIENT_REQUEST, request=request)
    entries = accounting_entries(
        practice_id=practice_id, patient_id=patient_id, since=now - datetime.timedelta(days=365 * 100), request=request, include_excluded=True
    )  # fmt: skip
    with tenant_context(practice_id=practice_id):
        plan = DeletionPlan(patient_id=uuid.UUID(str(patient_id)))
        for key, label, category, counter in ERASABLE:
            count = counter(patient_id)
            rule = kept_by(declaration, category)
            (plan.archive if rule else plan.erase).append(Group(key, label, count, rule or ""))
        for key, label, category, counter in ARCHIVED:
            rule = ALWAYS_KEPT.get(key) or kept_by(declaration, category)
            count = counter(patient_id)
            if rule and count:
                plan.archive.append(Group(key, label, count, rule))
        plan.holds = open_holds(patient_id)
        plan.last_service_on = last_service_on(patient_id) or timezone.localdate(now)
        plan.rule, _ = retention_rule(declaration)
        plan.retain_until, plan.from_majority = retain_until(declaration, plan.last_service_on, born)
    plan.unreachable = [Unreachable(e.recipient, timezone.localdate(e.disclosed_at), e.basis_label) for e in entries]
    return plan
