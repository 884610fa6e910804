"""`confide consent …`: the consent ledger from the command line.

  confide consent rebuild [--practice SLUG] [--check]

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
        sub = parser.add_subparsers(dest="action", required=True, metavar="{rebuild}")
        rebuild = sub.add_parser("rebuild", help="recompute the consent state from the events and report mismatches")
        rebuild.add_argument("--practice", metavar="SLUG", help="one practice (default: every practice)")
        rebuild.add_argument("--check", action="store_true", help="report only, change nothing; exit 1 on a mismatch")

    def handle(self, *args, action, practice=None, check=False, **options):
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
