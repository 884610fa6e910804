"""`confide directory …`: the directory's jobs, for operators.

  confide directory purge [--schedule]
        delete referrals older than 30 days (DIR3), once. With --schedule, also queue the purge
        on the task worker (`confide db_worker`), which then queues itself every hour. Output: a count only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Directory: delete referrals older than 30 days (purge)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{purge}")
        purge = sub.add_parser("purge", help="delete referrals older than 30 days (once)")
        purge.add_argument("--schedule", action="store_true", help="also queue the purge every hour on the task worker")

    def handle(self, *args, action, **options):
        from confide.directory.services import purge_referrals
        from confide.directory.tasks import schedule_purge

        self.stdout.write(f"purge: {purge_referrals()} referrals deleted")
        if options["schedule"]:
            queued = schedule_purge()
            self.stdout.write("purge queued every hour" if queued else "this task backend cannot defer: run this command every hour from cron")
