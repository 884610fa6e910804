"""`confide disclosures …`: the accounting of disclosures' background work, for operators.

  confide disclosures sweep [--schedule]
        send the patients' notices of compelled disclosures that may go now (those the law or
        the order held until a date that has passed), each once (a conditional update: two
        sweeps at once never send one twice). With --schedule, also queue the sweep on the task
        worker (`confide db_worker`), which then queues itself every hour. Output: a count only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Disclosures: send the held notices of compelled disclosures now due (sweep)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{sweep}")
        sweep = sub.add_parser("sweep", help="send the notices of compelled disclosures due now (once)")
        sweep.add_argument("--schedule", action="store_true", help="also queue the sweep every hour on the task worker")

    def handle(self, *args, action, **options):
        from confide.rights.disclosure_notices import sweep
        from confide.rights.disclosure_tasks import schedule_sweep

        done = sweep()
        self.stdout.write(f"sweep: {done} notices sent")
        if options["schedule"]:
            queued = schedule_sweep()
            self.stdout.write("sweep queued every hour" if queued else "this task backend cannot defer: run this command every hour from cron")
