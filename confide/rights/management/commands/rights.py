"""`confide rights …`: rights requests' background work, for operators.

  confide rights sweep [--schedule]
        send the acknowledgements that are due and e-mail each practice's privacy officer(s) the
        number of overdue requests and of those due within 3 days (once a day: a second run the
        same day sends nothing). With --schedule, also queue the sweep on the task worker
        (`confide db_worker`), which then queues itself daily. Output: counts only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Rights requests: the daily sweep (acknowledgements, overdue alerts)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{sweep}")
        sweep = sub.add_parser("sweep", help="send due acknowledgements and today's overdue alerts (once a day)")
        sweep.add_argument("--schedule", action="store_true", help="also queue the sweep daily on the task worker")

    def handle(self, *args, action, **options):
        from confide.rights.sweep import sweep
        from confide.rights.tasks import schedule_sweep

        done = sweep()
        self.stdout.write(f"sweep: {done.practices} practices, {done.acknowledged} acknowledgements sent, {done.alerted} alerts sent")
        if options["schedule"]:
            queued = schedule_sweep()
            self.stdout.write("sweep queued daily" if queued else "this task backend cannot defer: run this command daily from cron")
