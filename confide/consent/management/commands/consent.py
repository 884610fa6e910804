"""`confide consent …`: the consent ledger from the command line.

  confide consent rebuild [--practice SLUG] [--check]
  confide consent record --practice SLUG --patient UUID --topic TOPIC --method staff_paper|staff_phone
                         --text-file FILE --as EMAIL [--withdraw]

`record` is staff recording a patient's choice made on paper or by phone (a specific HIPAA
authorization to release psychotherapy notes, say): the file holds the exact text the patient
signed or was read; the staff member is recorded with it.

`rebuild` recomputes the ConsentState projection of each practice (or one) from its events
alone and reports every row that was missing, extra or different; `--check` only reports, and
exits 1 when anything differs. Identifiers are printed as ids and topics, never anything else.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from confide.consent.services import rebuild_projection
from confide.core.models import Practice


class Command(BaseCommand):
    help = "The consent ledger: rebuild the derived state from the events."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{rebuild,record}")
        rebuild = sub.add_parser("rebuild", help="recompute the consent state from the events and report mismatches")
        rebuild.add_argument("--practice", metavar="SLUG", help="one practice (default: every practice)")
        rebuild.add_argument("--check", action="store_true", help="report only, change nothing; exit 1 on a mismatch")
        rec = sub.add_parser("record", help="record a patient's choice made on paper or by phone, as a staff member")
        rec.add_argument("--practice", required=True, metavar="SLUG")
        rec.add_argument("--patient", required=True, metavar="UUID")
        rec.add_argument("--topic", required=True)
        rec.add_argument("--method", required=True, choices=["staff_paper", "staff_phone"])
        rec.add_argument("--text-file", required=True, metavar="FILE", help="the exact text signed or read out")
        rec.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
        rec.add_argument("--withdraw", action="store_true", help="record a withdrawal instead of a grant")

    def handle(self, *args, action, practice=None, check=False, **options):
        if action == "record":
            return self._record(practice, **options)
        practices = Practice.objects.order_by("slug")
        if practice:
            practices = practices.filter(slug=practice)
            if not practices.exists():
                raise CommandError(f"no practice with slug {practice!r}")
        total = 0
        for each in practices:
            report = rebuild_projection(each.id, write=not check)
            total += report.mismatches
            verb = "found" if check else "repaired"
            self.stdout.write(f"{each.slug}: {report.keys} subject topics, {report.mismatches} mismatches {verb}")
            for kind, subject_id, topic in report.missing:
                self.stdout.write(f"  missing  {kind}:{subject_id} {topic}")
            for kind, subject_id, topic in report.extra:
                self.stdout.write(f"  extra    {kind}:{subject_id} {topic}")
            for kind, subject_id, topic, fields in report.differing:
                self.stdout.write(f"  differs  {kind}:{subject_id} {topic}: {', '.join(fields)}")
        if check and total:
            raise CommandError(f"{total} consent state rows differ from the events (run without --check to repair)")

    def _record(self, slug, *, patient, topic, method, text_file, as_email, withdraw, **_):
        from pathlib import Path

        from confide.accounts.models import Membership
        from confide.consent import services
        from confide.core.actors import StaffActor
        from confide.core.errors import ConfideError
        from confide.core.tenancy import tenant_context

        found = Practice.objects.filter(slug=slug).first()
        if found is None:
            raise CommandError(f"no practice with slug {slug!r}")
        try:
            text = Path(text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {text_file}: {exc.__class__.__name__}") from None
        with tenant_context(practice_id=found.id):
            membership = Membership.objects.filter(user__email__iexact=as_email, is_active=True, user__is_active=True).first()
        if membership is None:
            raise CommandError(f"{as_email} is not an active member of {slug}")
        channel = "paper" if method == "staff_paper" else "phone"
        choose = services.do_withdraw if withdraw else services.do_grant
        try:
            event = choose(
                actor=StaffActor.from_membership(membership), subject=services.Subject.patient(found.id, patient),
                topic=topic, channel=channel, method=method, shown_text=text,
            )  # fmt: skip
        except ConfideError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from None
        self.stdout.write(f"recorded: {event.action} {event.topic} for patient {patient} (event {event.pk})")
