"""`confide policy …`: the privacy declaration from the command line.

  confide policy check [FILE]                          check the shipped default, or an override file
                                                       (exit 1 naming the line of the first problem)
  confide policy versions --practice SLUG              every version: number, dates, material, summary
  confide policy override --practice SLUG [--version N]
                                                       print the override of the latest version (or N):
                                                       the text to edit for the next one
  confide policy diff --practice SLUG A B              what changed from version A to B (a number, or
                                                       "default" for the shipped default)
  confide policy publish --practice SLUG --override FILE --effective DATE --summary TEXT
                         --as EMAIL [--material]       publish a new version as that staff member; a change
                                                       the rules find material (longer retention, a new
                                                       processor, …: confide/policy/materiality.py) is
                                                       refused without --material

DATE is ISO 8601 (2027-01-15 or 2027-01-15T09:00); without a zone it is UTC.

An override is the practice's *whole* set of changes to the default, not a patch on the last
version: what it leaves out goes back to the default (a BAA flag, a contact). So start from
`confide policy override`, edit, and publish; `publish` prints what changes from the latest version.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from confide.core.errors import ConfideError
from confide.core.models import Practice
from confide.policy import services
from confide.policy.loader import PolicyError, load_default, parse_declaration, resolve


def _practice(slug: str) -> Practice:
    practice = Practice.objects.filter(slug=slug).first()
    if practice is None:
        raise CommandError(f"no practice with slug {slug!r}")
    return practice


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc.__class__.__name__}") from None


def _when(value: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--effective {value!r}: give a date as 2027-01-15 or 2027-01-15T09:00") from None
    return timezone.make_aware(moment, datetime.UTC) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "The privacy declaration: check, list versions, diff, publish."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{check,versions,override,diff,publish}")
        check = sub.add_parser("check", help="check the shipped default, or an override file")
        check.add_argument("file", nargs="?", help="an override (TOML); default: check confide/policy/default.toml")
        check.add_argument("--declaration", action="store_true", help="FILE is a whole declaration, not an override")
        versions = sub.add_parser("versions", help="a practice's versions")
        versions.add_argument("--practice", required=True, metavar="SLUG")
        override = sub.add_parser("override", help="print a version's override (the text to start the next one from)")
        override.add_argument("--practice", required=True, metavar="SLUG")
        override.add_argument("--version", type=int, metavar="N", help="default: the latest version")
        diff = sub.add_parser("diff", help="what changed between two versions")
        diff.add_argument("--practice", required=True, metavar="SLUG")
        diff.add_argument("a", help='a version number, or "default"')
        diff.add_argument("b", help='a version number, or "default"')
        publish = sub.add_parser("publish", help="publish a new version of a practice's declaration")
        publish.add_argument("--practice", required=True, metavar="SLUG")
        publish.add_argument("--override", required=True, metavar="FILE")
        publish.add_argument("--effective", required=True, metavar="DATE")
        publish.add_argument("--summary", required=True, metavar="TEXT")
        publish.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the owner or privacy officer publishing it")
        publish.add_argument("--material", action="store_true", help="a material change: notify everyone it affects first (required when the change is material)")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        except ConfideError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from None

    def _check(self, file=None, declaration=False, **_):
        if file is None:
            load_default.cache_clear()
            result = load_default()
            self.stdout.write(f"OK default declaration {result.version}: {len(result.categories)} categories, {len(result.processors)} processors")
            return
        text = _read(file)
        result = parse_declaration(text, source=file) if declaration else resolve(text, source=file)
        in_use = sum(p.in_use for p in result.processors)
        self.stdout.write(f"OK {file}: {len(result.categories)} categories, {in_use} processors in use, minimum age {result.age.minimum}")

    def _versions(self, practice, **_):
        practice = _practice(practice)
        in_force = services.version_in_force(practice.id)
        for v in services.list_versions(practice.id):
            marks = " ".join(m for m, on in (("material", v.material), ("IN FORCE", v.number == in_force.number)) if on)
            self.stdout.write(f"{v.number:>3}  effective {v.effective_at:%Y-%m-%d %H:%M} UTC  {marks:<17} {v.summary}")

    def _override(self, practice, version=None, **_):
        practice = _practice(practice)
        found = services.latest_version(practice.id) if version is None else services.get_version(practice.id, version)
        if found is None:
            raise CommandError(f"practice {practice.slug} has no version {version}")
        self.stdout.write(found.override_toml or f"# version {found.number} is Confide's default: an empty override\n")

    def _side(self, practice: Practice, which: str):
        if which == "default":
            return load_default()
        try:
            number = int(which)
        except ValueError:
            raise CommandError(f"{which!r}: a version number, or 'default'") from None
        version = services.get_version(practice.id, number)
        if version is None:
            raise CommandError(f"practice {practice.slug} has no version {number}")
        return services.declaration_of(version)

    def _diff(self, practice, a, b, **_):
        practice = _practice(practice)
        changes = services.diff(self._side(practice, a), self._side(practice, b))
        if not changes:
            self.stdout.write(f"no changes between {a} and {b}")
        for change in changes:
            self.stdout.write(str(change))

    def _publish(self, practice, override, effective, summary, as_email, material, **_):
        from confide.accounts.models import Membership
        from confide.core.actors import StaffActor
        from confide.core.tenancy import tenant_context

        practice = _practice(practice)
        with tenant_context(practice_id=practice.id):
            membership = Membership.objects.filter(user__email__iexact=as_email, is_active=True, user__is_active=True).first()
        if membership is None:
            raise CommandError(f"{as_email} is not an active member of {practice.slug}")
        try:
            version = services.do_publish_policy(
                actor=StaffActor.from_membership(membership),
                override_toml=_read(override),
                effective_at=_when(effective),
                material=material,
                summary=summary,
            )
        except services.PublishRefused as exc:
            if exc.field != "material":
                raise
            raise CommandError(f"{exc} Publish it with --material.") from None
        self.stdout.write(f"published version {version.number} of {practice.slug}, effective {version.effective_at:%Y-%m-%d %H:%M} UTC")
        previous = services.get_version(practice.id, version.number - 1)
        before, after = services.declaration_of(previous), services.declaration_of(version)
        for change in services.diff(before, after):
            self.stdout.write(f"  {change}")
        for reason in services.material_changes(before, after):
            self.stdout.write(f"  material: {reason}")
