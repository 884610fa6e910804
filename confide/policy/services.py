"""A practice's privacy declaration over time: versions, the one in force, publishing a new one,
and what changed between two.

    declaration_in_force(practice_id)          the Declaration the code enforces right now
    version_in_force(practice_id, at=…)        the PolicyVersion in force at a moment
    do_publish_policy(actor=…, override_toml=…, effective_at=…, material=…, summary=…)
    diff(a, b)                                 [Change(path, before, after)], for the CLI and the notice
    get_policy_overview(actor=…)               the settings page: in force, upcoming, every version, the guide
    preview_policy(actor=…, …)                 what Publish would make and refuse, without writing anything

Publishing validates the override (PolicyError names the line), refuses a version identical to
the latest, and appends version n+1 with one `policy:version:published` audit entry in the same
transaction. A material change must take effect at least CONFIDE_POLICY_MATERIAL_NOTICE_DAYS
ahead, so the people it affects hear of it first (confide/records/policy_notices.py sends the notices).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.core.text import line_problem, lower_first
from confide.policy import signals
from confide.policy.loader import PolicyError, apply, load_default, parse_override
from confide.policy.locks import lock_latest_version
from confide.policy.materiality import MaterialChange, material_changes
from confide.policy.models import PolicyVersion
from confide.policy.schema import Declaration

SUMMARY_MAX = 300


def canonical(declaration: Declaration | dict) -> bytes:
    data = declaration.model_dump(by_alias=True) if isinstance(declaration, Declaration) else declaration
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(declaration: Declaration | dict) -> str:
    return hashlib.sha256(canonical(declaration)).hexdigest()


_BY_DIGEST: dict[str, Declaration] = {}  # versions are immutable, so their declarations can be kept


def declaration_of(version: PolicyVersion) -> Declaration:
    declaration = _BY_DIGEST.get(version.digest)
    if declaration is None:
        declaration = Declaration.model_validate(version.resolved)
        if len(_BY_DIGEST) > 512:
            _BY_DIGEST.clear()
        _BY_DIGEST[version.digest] = declaration
    return declaration


# --- versions ----------------------------------------------------------------------------------
def create_first_version(practice_id: uuid.UUID, *, override_toml: str = "") -> PolicyVersion:
    """Version 1 of a new practice, in force from now: the shipped default, or the default with
    `override_toml` applied when the practice starts with its own choices (`confide demo`). A
    first version changes nothing anyone was told, so no materiality applies. Idempotent."""
    default = load_default()
    declaration = check_override(override_toml) if override_toml else default
    with tenant_context(practice_id=practice_id):
        existing = PolicyVersion.objects.filter(number=1).first()
        if existing is not None:
            return existing
        resolved = declaration.model_dump(by_alias=True)
        try:
            with transaction.atomic():
                return PolicyVersion.objects.create(
                    practice_id=practice_id,
                    number=1,
                    override_toml=override_toml,
                    resolved=resolved,
                    digest=digest(resolved),
                    default_version=default.version,
                    effective_at=timezone.now(),
                    summary="First version: the practice's own choices." if override_toml else "First version: Confide's defaults.",
                )
        except IntegrityError:  # made concurrently
            return PolicyVersion.objects.get(number=1)


def list_versions(practice_id: uuid.UUID) -> list[PolicyVersion]:
    with tenant_context(practice_id=practice_id):
        return list(PolicyVersion.objects.order_by("number"))


def get_version(practice_id: uuid.UUID, number: int) -> PolicyVersion | None:
    with tenant_context(practice_id=practice_id):
        return PolicyVersion.objects.filter(number=number).first()


def version_in_force(practice_id: uuid.UUID, at: datetime.datetime | None = None) -> PolicyVersion:
    at = at or timezone.now()
    with tenant_context(practice_id=practice_id):
        version = PolicyVersion.objects.filter(effective_at__lte=at).order_by("-number").first()
        if version is None:
            if PolicyVersion.objects.exists():  # only future versions: the first takes effect later
                return PolicyVersion.objects.order_by("number").first()
            return create_first_version(practice_id)
        return version


def upcoming_versions(practice_id: uuid.UUID, at: datetime.datetime | None = None) -> list[PolicyVersion]:
    """Published versions not yet in force, soonest first."""
    at = at or timezone.now()
    with tenant_context(practice_id=practice_id):
        return list(PolicyVersion.objects.filter(effective_at__gt=at).order_by("effective_at", "number"))


# practice id -> (its latest version number, [(number, effective_at, digest)] newest first). A
# practice's versions are immutable and only ever appended, so this schedule is exact for as
# long as the latest number is the same; which version is in force then depends on the clock
# alone. Read without the `resolved` JSON (the declaration comes from _BY_DIGEST).
_SCHEDULES: dict[uuid.UUID, tuple[int, list[tuple[int, datetime.datetime, str]]]] = {}


def clear_policy_cache() -> None:
    _SCHEDULES.clear()


def _schedule(practice_id: uuid.UUID, latest_number: int | None) -> list[tuple[int, datetime.datetime, str]] | None:
    cached = _SCHEDULES.get(practice_id)
    if cached is not None and latest_number is not None and cached[0] == latest_number:
        return cached[1]
    with tenant_context(practice_id=practice_id):
        rows = list(PolicyVersion.objects.order_by("-number").values_list("number", "effective_at", "digest"))
    if not rows:
        return None
    if len(_SCHEDULES) > 4096:
        _SCHEDULES.clear()
    _SCHEDULES[practice_id] = (rows[0][0], rows)
    return rows


def declaration_in_force(
    practice_id: uuid.UUID, at: datetime.datetime | None = None, *, latest_number: int | None = None
) -> Declaration:
    """The declaration in force. `latest_number`, the practice's latest version number as the
    caller just read it (the chart door reads it with the membership), lets a cached schedule
    answer without a query; without it one small query (numbers, dates, digests) is made, so a
    version published by another process is in force on the very next call either way."""
    at = at or timezone.now()
    rows = _schedule(practice_id, latest_number)
    if rows is not None:
        number, _, version_digest = next((r for r in rows if r[1] <= at), rows[-1])  # only future ones: the first
        declaration = _BY_DIGEST.get(version_digest)
        if declaration is not None:
            return declaration
        with tenant_context(practice_id=practice_id):
            version = PolicyVersion.objects.filter(number=number).first()
        if version is not None:
            return declaration_of(version)
    return declaration_of(version_in_force(practice_id, at))


def latest_number_subquery(practice_ref: str = "practice_id"):
    """The practice's latest policy version number, as a subquery another query can carry."""
    from django.db.models import OuterRef, Subquery

    return Subquery(PolicyVersion.objects.filter(practice_id=OuterRef(practice_ref)).order_by("-number").values("number")[:1])


def latest_version(practice_id: uuid.UUID) -> PolicyVersion:
    with tenant_context(practice_id=practice_id):
        version = PolicyVersion.objects.order_by("-number").first()
    return version or create_first_version(practice_id)


# --- publishing -----------------------------------------------------------------------------------
class PublishRefused(InvalidInput):
    """A publication the rules refuse, with the form field its message belongs next to."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


NOTHING_CHANGES = "This override changes nothing in the notice in force or already published."


def material_refusal(required: list[MaterialChange]) -> PublishRefused:
    """A change the rules find material, offered as not material (confide/policy/materiality.py)."""
    return PublishRefused(
        f"This change is material, so it must be published as a material change, taking effect at least "
        f"{settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS} days after publishing: {' '.join(str(r) for r in required)}",
        field="material",
    )


def publish_problems(
    *, summary: str, effective_at: datetime.datetime | None, material: bool, required: list[MaterialChange] = ()
) -> list[PublishRefused]:
    """What `do_publish_policy` would refuse about the summary, the material mark and the date, in
    the order it checks them. `required`: why the change is material (`material_changes`); a
    change with any reason is material whatever the publisher said. The policy settings page's
    Preview shows them before anything is published."""
    problems: list[PublishRefused] = []
    if required and not material:
        problems.append(material_refusal(list(required)))
        material = True  # and the date is checked as it will have to be
    summary = (summary or "").strip()
    if not summary:
        problems.append(PublishRefused("Say in a sentence what changes: it is shown to the people the change affects.", field="summary"))
    elif len(summary) > SUMMARY_MAX:
        problems.append(PublishRefused(f"The summary is limited to {SUMMARY_MAX} characters.", field="summary"))
    elif line_problem(summary):  # it goes into every notice e-mail and banner: one line of plain text
        problems.append(PublishRefused(f"The summary: {lower_first(line_problem(summary)[1])}", field="summary"))
    if effective_at is None or timezone.is_naive(effective_at):
        problems.append(PublishRefused("Give the date and time the new version takes effect.", field="effective_at"))
        return problems
    now = timezone.now()
    if effective_at < now - datetime.timedelta(minutes=5):
        problems.append(PublishRefused("A new version cannot take effect in the past.", field="effective_at"))
    elif material:
        lead = datetime.timedelta(days=settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS)
        if effective_at < now + lead - datetime.timedelta(minutes=5):
            problems.append(PublishRefused(
                f"A material change takes effect at least {settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS} days after it is "
                "published, so patients and staff hear of it first.",
                field="effective_at",
            ))  # fmt: skip
    return problems


def _check_editor(actor) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.POLICY_EDIT):
        raise Forbidden(Perm.POLICY_EDIT)


def check_override(override_toml: str) -> Declaration:
    """The declaration an override makes, or PolicyError naming the line."""
    return apply(load_default(), parse_override(override_toml), text=override_toml)


def do_publish_policy(
    *,
    actor: StaffActor,
    override_toml: str,
    effective_at: datetime.datetime,
    material: bool,
    summary: str,
    request=None,
) -> PolicyVersion:
    _check_editor(actor)
    declaration = check_override(override_toml)  # PolicyError (an InvalidInput-like error with a line)
    problems = publish_problems(summary=summary, effective_at=effective_at, material=material)
    if problems:
        raise problems[0]
    summary = summary.strip()
    resolved = declaration.model_dump(by_alias=True)
    new_digest = digest(resolved)
    with tenant_context(practice_id=actor.practice_id), transaction.atomic():
        latest = lock_latest_version()
        if latest is None:
            latest = create_first_version(actor.practice_id)
        if latest.digest == new_digest:
            raise PublishRefused(NOTHING_CHANGES, field="override_toml")
        changes = diff(declaration_of(latest), declaration)
        required = material_changes(declaration_of(latest), declaration)
        if required and not material:
            # Computed from the change, against the latest version as it is under the lock: the
            # publisher may call any change material, never a material one immaterial.
            raise material_refusal(required)
        version = PolicyVersion.objects.create(
            practice_id=actor.practice_id,
            number=latest.number + 1,
            override_toml=override_toml,
            resolved=resolved,
            digest=new_digest,
            default_version=declaration.version,
            effective_at=effective_at,
            material=material,
            summary=summary,
            published_by_id=actor.user_id,
        )
        record(
            AuditEvent.POLICY_PUBLISHED,
            practice_id=actor.practice_id,
            actor=actor,
            purpose="operations",
            resource_ids=[version.pk],
            detail={"number": version.number, "material": material, "changes": len(changes),
                    "material_rules": sorted({r.rule for r in required})},
            request=request,
        )
        if material:
            if not signals.material_version_published.has_listeners():
                # Nobody would tell the people it affects (POL2): refuse rather than publish silently.
                raise RuntimeError("no job receives material_version_published (is confide.records installed?)")
            transaction.on_commit(
                functools.partial(signals.material_version_published.send, sender=PolicyVersion, version_id=version.pk, practice_id=actor.practice_id)
            )
    return version


# --- the policy settings page -------------------------------------------------------------------
@dataclass(frozen=True)
class PolicyOverview:
    """What the owner and the privacy officer see before they change anything."""

    in_force: PolicyVersion
    upcoming: list[PolicyVersion]
    versions: list[PolicyVersion]  # newest first, `published_by` loaded (its display name is shown)
    latest: PolicyVersion
    guide: object  # confide.policy.guide.Guide: the values in force now, and the latest version's if it is still to come
    by_staff: list  # confide.policy.protections.Statement: what the notice in force promises that staff must do by hand


def get_policy_overview(*, actor: StaffActor) -> PolicyOverview:
    _check_editor(actor)
    from confide.core.models import Practice
    from confide.policy.guide import build_guide
    from confide.policy.protections import statements

    in_force = version_in_force(actor.practice_id)  # makes version 1 if a practice somehow has none
    practice = Practice.objects.get(pk=actor.practice_id)
    with tenant_context(practice_id=actor.practice_id):
        versions = list(PolicyVersion.objects.select_related("published_by").order_by("-number"))
    latest = versions[0]
    return PolicyOverview(
        in_force=in_force,
        upcoming=upcoming_versions(actor.practice_id),
        versions=versions,
        latest=latest,
        guide=build_guide(
            declaration_of(in_force),
            upcoming=declaration_of(latest) if latest.number > in_force.number else None,
            upcoming_version=latest,
        ),
        by_staff=[st for st in statements(declaration_of(in_force), mfa_required=practice.mfa_required) if st.handled_by_staff],
    )


@dataclass(frozen=True)
class Preview:
    """An override as it would be published: what changes against the latest version, what
    Publish would still refuse, and the notice it makes. Building it writes nothing."""

    base: PolicyVersion
    changes: list[Change]
    material_reasons: list[MaterialChange]  # why this change is material whatever is ticked; empty if it is not
    problems: list[PublishRefused]
    notice: object  # confide.policy.notice.Notice


@dataclass(frozen=True)
class _Draft:
    """The stand-in for a version not yet written, for the notice builder."""

    number: int
    effective_at: datetime.datetime


def preview_policy(
    *, actor: StaffActor, override_toml: str, effective_at: datetime.datetime | None, material: bool, summary: str
) -> Preview:
    """PolicyError (naming the line) for an override that cannot be used; otherwise a Preview."""
    _check_editor(actor)
    from confide.core.models import Practice
    from confide.policy.notice import build_notice

    declaration = check_override(override_toml)
    base = latest_version(actor.practice_id)
    changes = diff(declaration_of(base), declaration)
    required = material_changes(declaration_of(base), declaration)
    problems = publish_problems(summary=summary, effective_at=effective_at, material=material, required=required)
    if not changes:
        problems.insert(0, PublishRefused(NOTHING_CHANGES, field="override_toml"))
    now = timezone.now()
    practice = Practice.objects.get(pk=actor.practice_id)
    notice = build_notice(practice, _Draft(base.number + 1, effective_at or now), declaration, last_updated=now)
    return Preview(base=base, changes=changes, material_reasons=required, problems=problems, notice=notice)


# --- what changed --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    path: str
    before: object
    after: object

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"

    @property
    def before_text(self) -> str:
        return _show(self.before)

    @property
    def after_text(self) -> str:
        return _show(self.after)

    def __str__(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.kind]
        if self.kind == "changed":
            return f"{sign} {self.path}: {_show(self.before)} -> {_show(self.after)}"
        return f"{sign} {self.path}: {_show(self.after if self.kind == 'added' else self.before)}"


def _show(value) -> str:
    if value == "":
        return "(empty)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else value


def _flatten(value, prefix: str, out: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(i, dict) and "id" in i for i in value):
        for item in value:  # processors, retention rules: by id, not by position
            _flatten({k: v for k, v in item.items() if k != "id"}, f"{prefix}.{item['id']}", out)
    else:
        out[prefix] = value


def diff(a: Declaration | dict, b: Declaration | dict) -> list[Change]:
    """What changed from `a` to `b`, leaf by leaf, sorted by path."""
    left, right = {}, {}
    _flatten(a.model_dump(by_alias=True) if isinstance(a, Declaration) else a, "", left)
    _flatten(b.model_dump(by_alias=True) if isinstance(b, Declaration) else b, "", right)
    return [
        Change(path, left.get(path), right.get(path))
        for path in sorted(set(left) | set(right))
        if left.get(path) != right.get(path)
    ]


__all__ = [
    "Change", "PolicyError", "PolicyOverview", "Preview", "PublishRefused", "check_override", "create_first_version",
    "declaration_in_force", "declaration_of", "diff", "do_publish_policy", "get_policy_overview", "get_version",
    "latest_version", "list_versions", "material_changes", "material_refusal", "preview_policy", "publish_problems",
    "upcoming_versions", "version_in_force",
]  # fmt: skip


def register_dashboard_count() -> None:
    """The dashboard's "policy changes pending": versions published, not yet in force."""
    from django.urls import reverse

    from confide.core.dashboard import Waiting, register

    register(Waiting("policy-pending", "Policy changes pending", Perm.POLICY_EDIT,
                     lambda actor: len(upcoming_versions(actor.practice_id)), lambda actor: reverse("policy:settings"), order=40))  # fmt: skip
