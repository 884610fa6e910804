"""`confide patients …`: maintenance of the patient register.

  confide patients reindex [--practice SLUG]
        recompute the blind indexes of every active patient (all practices, or one): run once
        after an upgrade that adds a kind of index (e.g. name prefixes for the patient list's
        search). Idempotent; prints one line per practice with its slug and a count.

Output names practices by slug and counts: never a patient's name or any other value.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.records.services import reindex_patients


class Command(BaseCommand):
    help = "The patient register: rebuild the search indexes."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{reindex}")
        reindex = sub.add_parser("reindex", help="recompute every active patient's blind indexes")
        reindex.add_argument("--practice", metavar="SLUG", help="only this practice (default: all)")

    def handle(self, *args, action, **options):
        practices = Practice.objects.order_by("slug")
        if options.get("practice"):
            practices = practices.filter(slug=options["practice"])
            if not practices.exists():
                raise CommandError(f"no practice with the slug {options['practice'][:50]!r}")
        for practice in practices:
            with tenant_context(practice_id=practice.id):
                count = reindex_patients(practice.id)
            self.stdout.write(f"{practice.slug}: {count} patient{'s' if count != 1 else ''} indexed")
