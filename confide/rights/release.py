"""Records release (DSC1; issue 17 item 5): an expiring, revocable link to a read-only,
printable package of some categories of one patient's record, for another provider or an
attorney.

    create_release(actor=StaffActor, patient_id=…, recipient=…, basis=…, categories=…, days=14, …) -> (ReleaseLink, token)
    revoke_release(actor=StaffActor, link_id=…)                                                    -> ReleaseLink
    open_release(token, request=None)                                                              -> ReleasePackage
    list_releases(actor=StaffActor, patient_id=…)                                                  -> list[ReleaseLink]

The link is itself a disclosure (ARCHITECTURE rule 8): creating it records the accounting entry
(`record_disclosure`, source release, source_id = the link's id) in the same transaction as the
link, so a link never exists without its entry and a retried create never records two. The token
(the practice's id, a dot, 32 random bytes) is shown once; only its SHA-256 is kept. Revocation
and expiry end it at once (the page answers 410). Opening it reads the package through the door
as the `records-release-job` system job with exactly the categories the link names (audited,
`rights:release:opened`); when a released part is disputed, the amendment packet travels with
it (§164.526(d)(5), M10). Wrong tokens are counted per client address (a keyed hash) and refused
after RATE_LIMIT in RATE_WINDOW.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from confide.access import policy
from confide.access.door import RELEASE_JOB, open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.rights.models import ReleaseLink

DEFAULT_DAYS = 14
MAX_DAYS = 30
RATE_LIMIT = 20
RATE_WINDOW = 600  # seconds
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{40,64})$")
# What a release may name (the patient's name and date of birth always go with it, to identify
# the record); never psychotherapy notes (HIPAA: they need their own authorization).
RELEASABLE = {
    policy.BACKGROUND: "Health background",
    policy.CONDITIONS: "Problems and conditions",
    policy.MEDICATIONS: "Medications",
    policy.ALLERGIES: "Allergies",
    policy.IMMUNIZATIONS: "Immunizations",
    policy.NOTES: "Progress notes",
}
assert set(RELEASABLE) <= RELEASE_JOB.categories
BASES = {"other_provider": "Another provider (continuity of care)", "attorney": "An attorney"}


class ReleaseGone(Exception):
    """The link expired or was revoked: the page answers 410."""


class TooManyTries(Exception):
    """Too many wrong tokens from one client address: 429."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(practice_id) -> str:
    return f"{uuid.UUID(str(practice_id)).hex}.{secrets.token_urlsafe(32)}"


def _checker(actor) -> StaffActor:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.AMENDMENT_DECIDE):
        raise Forbidden(Perm.AMENDMENT_DECIDE)
    return actor


def parse_categories(values) -> list[str]:
    chosen = sorted({str(v) for v in (values or [])})
    if not chosen:
        raise InvalidInput("Choose at least one part of the record to release.")
    if any(c not in RELEASABLE for c in chosen):
        raise InvalidInput("Choose the parts of the record to release from the list.")
    return chosen


def parse_days(value) -> int:
    try:
        days = int(value) if value not in (None, "") else DEFAULT_DAYS
    except (TypeError, ValueError):
        raise InvalidInput(f"The link lasts a whole number of days, from 1 to {MAX_DAYS}.") from None
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"The link lasts a whole number of days, from 1 to {MAX_DAYS}.")
    return days


def _patient_in_practice(actor, patient_id) -> uuid.UUID:
    from confide.records.models import Patient

    try:
        pid = uuid.UUID(str(patient_id))
    except ValueError:
        raise NotFound("patient") from None
    with tenant_context(practice_id=actor.practice_id):
        if not Patient.objects.filter(pk=pid).exists():
            raise NotFound("patient")
    return pid


def create_release(*, actor, patient_id, recipient, basis, categories, days=DEFAULT_DAYS, purpose="", recipient_address="", request=None):
    """Create the link and its accounting entry in one transaction; returns (link, token)."""
    from confide.disclosures.services import record_disclosure

    actor = _checker(actor)
    pid = _patient_in_practice(actor, patient_id)  # another practice's patient: 404 before any validation
    if basis not in BASES:
        raise InvalidInput("Choose who receives the records from the list.")
    chosen = parse_categories(categories)
    lasting = parse_days(days)
    token = _new_token(actor.practice_id)
    now = timezone.now()
    what = ", ".join(RELEASABLE[c] for c in chosen)
    # The creator's opening (another practice's patient: NotFound) holds the patient's lock; the
    # link, the disclosure (its own job's opening joins this transaction) and the entry commit together.
    with open_chart(actor, pid, Purpose.TREATMENT, categories={policy.NAME}, request=request, for_update=True) as chart:
        link = ReleaseLink.objects.create(
            practice_id=actor.practice_id, patient_id=chart.patient.pk, created_by_id=actor.user_id, token_hash=token_hash(token),
            categories=chosen, expires_at=now + datetime.timedelta(days=lasting),
        )  # fmt: skip
        disclosure = record_disclosure(
            practice_id=actor.practice_id, patient_id=chart.patient.pk, basis=basis, source="release", source_id=link.pk,
            recipient=recipient, recipient_address=recipient_address, description=f"Records release link: {what}",
            purpose=(purpose or "").strip() or BASES[basis], categories=chosen, recorded_by_id=actor.user_id, request=request,
        )  # fmt: skip
        record(
            AuditEvent.RELEASE_CREATED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
            subject_id=chart.patient.pk, resource_ids=[link.pk, disclosure.pk], categories=[policy.DISCLOSURES],
            detail={"categories": chosen, "days": lasting, "basis": basis}, request=request,
        )  # fmt: skip
    return link, token


def revoke_release(*, actor, link_id, request=None) -> ReleaseLink:
    actor = _checker(actor)
    try:
        pk = uuid.UUID(str(link_id))
    except ValueError:
        raise NotFound("release link") from None
    with tenant_context(practice_id=actor.practice_id):
        link = ReleaseLink.objects.filter(pk=pk).first()
        if link is None:
            raise NotFound("release link")
        now = timezone.now()
        if ReleaseLink.objects.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by_id=actor.user_id, updated_at=now) == 1:
            record(AuditEvent.RELEASE_REVOKED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
                   subject_id=link.patient_id, resource_ids=[link.pk], request=request)  # fmt: skip
        return ReleaseLink.objects.get(pk=pk)


def list_releases(*, actor, patient_id) -> list[ReleaseLink]:
    actor = _checker(actor)
    patient_id = _patient_in_practice(actor, patient_id)
    with tenant_context(practice_id=actor.practice_id):
        return list(ReleaseLink.objects.filter(patient_id=patient_id)[:50])


# --- opening ---------------------------------------------------------------------------------
def _client_key(request) -> str:
    address = (request.META.get("REMOTE_ADDR", "") if request is not None else "") or "-"
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]
    return f"release-wrong:{digest}"


def _refuse_wrong(request) -> None:
    key = _client_key(request)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, RATE_WINDOW)
        count = 1
    if count > RATE_LIMIT:
        raise TooManyTries()
    raise NotFound("release link")


@dataclass
class ReleasePackage:
    practice_name: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    patient_name: str
    date_of_birth: datetime.date | None
    sections: list = field(default_factory=list)  # (label, kind, content)
    amendments: list = field(default_factory=list)  # amendments.PacketItem


def _items(value) -> list[str]:
    out = []
    for item in value or []:
        if isinstance(item, dict):
            words = [str(item.get(k)) for k in ("name", "display", "substance", "text", "dose", "status", "reaction", "date") if item.get(k)]
            out.append(" · ".join(words) or "(entry)")
        else:
            out.append(str(item))
    return out


def open_release(token: str, request=None) -> ReleasePackage:
    """The package behind a token: NotFound for a wrong token (counted), ReleaseGone for an
    expired or revoked link, TooManyTries after too many wrong ones from one address."""
    from confide.core.models import Practice
    from confide.records.models import NoteStatus, ProgressNote
    from confide.rights.amendments import packet_for

    if cache.get(_client_key(request), 0) >= RATE_LIMIT:
        raise TooManyTries()
    match = _TOKEN.fullmatch(token or "")
    if match is None:
        _refuse_wrong(request)
    practice_id = uuid.UUID(match.group(1))
    with tenant_context(practice_id=practice_id):
        link = ReleaseLink.objects.filter(token_hash=token_hash(token)).first()
    if link is None:
        _refuse_wrong(request)
    now = timezone.now()
    if link.revoked_at is not None or link.expires_at <= now:
        raise ReleaseGone()
    job = RELEASE_JOB.for_practice(practice_id)
    cats = set(link.categories) & set(RELEASABLE)
    wanted = {policy.NAME, policy.DOB, policy.MESSAGES} | cats
    with open_chart(job, link.patient_id, Purpose.PATIENT_REQUEST, categories=wanted, request=request) as chart:
        p = chart.patient
        package = ReleasePackage(
            practice_name=Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "",
            created_at=link.created_at, expires_at=link.expires_at,
            patient_name=" ".join(x for x in (p.given_name, p.family_name) if x), date_of_birth=p.date_of_birth,
        )  # fmt: skip
        for category, label in RELEASABLE.items():
            if category not in cats:
                continue
            if category == policy.BACKGROUND:
                package.sections.append((label, "text", p.health_background or ""))
            elif category == policy.NOTES:
                notes = []
                for note in ProgressNote.objects.filter(patient_id=p.pk, status=NoteStatus.SIGNED).prefetch_related("addenda").order_by("signed_at")[:500]:
                    content = note.content or {}
                    body = "\n".join(f"{k.title()}: {v}" for k, v in content.items() if v) if isinstance(content, dict) else str(content)
                    addenda = [(a.signed_at, a.content) for a in note.addenda.all().order_by("created_at")]
                    notes.append({"signed_at": note.signed_at, "body": body, "addenda": addenda})
                package.sections.append((label, "notes", notes))
            else:
                name = {policy.CONDITIONS: "conditions", policy.MEDICATIONS: "medications", policy.ALLERGIES: "allergies",
                        policy.IMMUNIZATIONS: "immunizations"}[category]  # fmt: skip
                package.sections.append((label, "list", _items(getattr(p, name))))
        package.amendments = packet_for(practice_id, p.pk, cats)
        ReleaseLink.objects.filter(pk=link.pk).update(opened_count=F("opened_count") + 1, last_opened_at=now)
        record(
            AuditEvent.RELEASE_OPENED, practice_id=practice_id, actor=system_actor(job.name), purpose=Purpose.PATIENT_REQUEST.value, subject_id=p.pk,
            resource_ids=[link.pk], categories=sorted(wanted), request=request,
        )  # fmt: skip
    return package
