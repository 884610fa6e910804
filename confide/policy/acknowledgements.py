"""The in-app announcement of a material change, and who saw and accepted it (POL2).

While a material version is upcoming, and for BANNER_DAYS_AFTER days after it takes effect,
every signed-in member of the practice sees a banner naming the change (base.html) until they
press "I have read it". Opening that version's page while signed in records `seen`; the button
records `accepted`. Both are `NoticeAcknowledgement` rows, once per version, subject and kind.

A subject is a kind and an id, not a user: staff (`staff`, user id) and patients in the portal
(`patient`, patient id: the record the portal acts on, so a parent or guardian acting for a
minor acknowledges for that record), so the banner, the evidence and the report stay the same
code. The portal's home page shows the banner (templates/portal/home.html). The report shows staff by display name and patients only as counts.

No audit entries: the rows are the evidence themselves, and they carry no PHI.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.signals import post_save
from django.utils import timezone

from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, NotFound
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.policy.models import NoticeAcknowledgement, NoticeDelivery, PolicyVersion

BANNER_DAYS_AFTER = 30


class SubjectKind(StrEnum):
    STAFF = "staff"
    PATIENT = "patient"


@dataclass(frozen=True)
class Subject:
    """Who is told: the same kinds and ids as NoticeDelivery's recipients."""

    kind: SubjectKind
    id: str


def subject_of(actor) -> Subject:
    if isinstance(actor, StaffActor):
        return Subject(SubjectKind.STAFF, str(actor.user_id))
    if isinstance(actor, PatientActor) and actor.user_id is not None:  # a portal account, on the record it acts on
        return Subject(SubjectKind.PATIENT, str(actor.patient_id))
    raise Forbidden("notice acknowledgement")


def _record_once(version: PolicyVersion, subject: Subject, kind: str) -> bool:
    """True if this made the row; a second press, a reload or a race finds it there."""
    if NoticeAcknowledgement.objects.filter(version=version, subject_kind=subject.kind, subject_id=subject.id, kind=kind).exists():
        return False
    try:
        with transaction.atomic():
            NoticeAcknowledgement.objects.create(
                practice_id=version.practice_id, version=version, subject_kind=subject.kind, subject_id=subject.id, kind=kind,
            )  # fmt: skip
    except IntegrityError:
        return False
    return True


def record_seen(*, actor, version: PolicyVersion) -> bool:
    """`actor` opened `version`'s page. Only a member of the version's own practice counts."""
    subject = subject_of(actor)
    if actor.practice_id != version.practice_id:
        return False
    with tenant_context(practice_id=version.practice_id):
        return _record_once(version, subject, NoticeAcknowledgement.Kind.SEEN)


def do_accept_notice(*, actor, version_id: uuid.UUID) -> PolicyVersion:
    """`actor` pressed "I have read it" for a version of their practice (NotFound otherwise,
    the same for another practice's version as for one that does not exist)."""
    subject = subject_of(actor)
    with tenant_context(practice_id=actor.practice_id):
        version = PolicyVersion.objects.filter(pk=version_id).first()
        if version is None:
            raise NotFound("policy version")
        _record_once(version, subject, NoticeAcknowledgement.Kind.ACCEPTED)
    return version


# --- the banner ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Banner:
    version_id: uuid.UUID
    number: int
    effective_at: datetime.datetime
    summary: str
    upcoming: bool  # not yet in effect ("changes on") rather than recently in effect ("changed on")


def _window_start(at: datetime.datetime) -> datetime.datetime:
    return at - datetime.timedelta(days=BANNER_DAYS_AFTER)


# The banner is in base.html, so it is asked for on every page; almost always there is no material
# version to announce. A practice's material versions (immutable rows, few) are kept per process
# for MATERIAL_CACHE_SECONDS: a version published by another process shows its banner at most
# that much later (it is announced 30 days or more ahead); one saved in this process clears the
# entry at once. Whether the member has accepted is still read on every page that has a banner.
MATERIAL_CACHE_SECONDS = 60
_material: dict[str, tuple[float, tuple[tuple, ...]]] = {}
_material_lock = threading.Lock()


def _material_versions(practice_id) -> tuple[tuple, ...]:
    key = str(practice_id)
    now = time.monotonic()
    hit = _material.get(key)
    if hit is not None and now - hit[0] < MATERIAL_CACHE_SECONDS:
        return hit[1]
    rows = tuple(
        PolicyVersion.objects.filter(material=True).order_by("effective_at", "number").values_list("pk", "number", "effective_at", "summary")
    )
    with _material_lock:
        _material[key] = (now, rows)
    return rows


def _forget_material_versions(sender, instance: PolicyVersion, **kwargs) -> None:
    with _material_lock:
        _material.pop(str(instance.practice_id), None)


post_save.connect(_forget_material_versions, sender=PolicyVersion, dispatch_uid="confide.policy.acknowledgements.material")


def banners_for(*, actor, at: datetime.datetime | None = None) -> list[Banner]:
    """The material versions `actor` should be told about and has not accepted, soonest first."""
    subject = subject_of(actor)
    at = at or timezone.now()
    with tenant_context(practice_id=actor.practice_id):
        start = _window_start(at)
        versions = [row for row in _material_versions(actor.practice_id) if row[2] > start]
        if not versions:
            return []
        accepted = set(
            NoticeAcknowledgement.objects.filter(
                subject_kind=subject.kind, subject_id=subject.id, kind=NoticeAcknowledgement.Kind.ACCEPTED,
                version_id__in=[row[0] for row in versions],
            ).values_list("version_id", flat=True)
        )  # fmt: skip
        return [Banner(pk, number, effective_at, summary, effective_at > at) for pk, number, effective_at, summary in versions if pk not in accepted]


# --- the report ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    staff: int = 0
    patients: int = 0


@dataclass(frozen=True)
class VersionReport:
    version: PolicyVersion
    emailed: Counts
    refused: Counts  # e-mails the egress gate did not let out (e.g. no BAA), or whose headers could not be built (bad_header)
    seen: Counts
    accepted: Counts
    staff_not_accepted: list[str]  # display names of active staff; patients are never named here


def _counts(rows, key: str) -> dict[uuid.UUID, Counts]:
    """{version id: Counts} from rows of (version_id, `key` = staff|patient, n)."""
    out: dict[uuid.UUID, dict[str, int]] = {}
    for row in rows:
        counts = out.setdefault(row["version_id"], {"staff": 0, "patients": 0})
        counts["staff" if row[key] == SubjectKind.STAFF else "patients"] += row["n"]
    return {version_id: Counts(**counts) for version_id, counts in out.items()}


def notice_report(*, actor: StaffActor) -> list[VersionReport]:
    """For each material version, newest first: how many were e-mailed, saw and accepted, and
    which staff have not accepted yet. For the owner and the privacy officer."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.POLICY_EDIT):
        raise Forbidden(Perm.POLICY_EDIT)
    from confide.accounts.models import Membership

    with tenant_context(practice_id=actor.practice_id):
        versions = list(PolicyVersion.objects.filter(material=True).order_by("-number"))
        if not versions:
            return []
        ids = [v.pk for v in versions]
        deliveries = list(
            NoticeDelivery.objects.filter(version_id__in=ids).values("version_id", "recipient_kind", "outcome").order_by().annotate(n=Count("id"))
        )
        sent = _counts([d for d in deliveries if d["outcome"] == NoticeDelivery.Outcome.SENT], "recipient_kind")
        refused = _counts([d for d in deliveries if d["outcome"] == NoticeDelivery.Outcome.REFUSED], "recipient_kind")
        acks = list(NoticeAcknowledgement.objects.filter(version_id__in=ids).values("version_id", "subject_kind", "kind").order_by().annotate(n=Count("id")))
        seen = _counts([a for a in acks if a["kind"] == NoticeAcknowledgement.Kind.SEEN], "subject_kind")
        accepted = _counts([a for a in acks if a["kind"] == NoticeAcknowledgement.Kind.ACCEPTED], "subject_kind")
        accepted_staff: dict[uuid.UUID, set[str]] = {}
        for version_id, subject_id in NoticeAcknowledgement.objects.filter(
            version_id__in=ids, subject_kind=SubjectKind.STAFF, kind=NoticeAcknowledgement.Kind.ACCEPTED
        ).values_list("version_id", "subject_id"):
            accepted_staff.setdefault(version_id, set()).add(subject_id)
        staff = list(
            Membership.objects.filter(is_active=True, user__is_active=True).order_by("user__display_name").values_list("user_id", "user__display_name")
        )
    return [
        VersionReport(
            version=v,
            emailed=sent.get(v.pk, Counts()),
            refused=refused.get(v.pk, Counts()),
            seen=seen.get(v.pk, Counts()),
            accepted=accepted.get(v.pk, Counts()),
            staff_not_accepted=[name for user_id, name in staff if str(user_id) not in accepted_staff.get(v.pk, set())],
        )
        for v in versions
    ]
