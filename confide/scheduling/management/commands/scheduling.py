"""`confide scheduling …`: the calendar's background work, for operators.

  confide scheduling sweep [--schedule]
        send every appointment reminder that is due now, once (each reminder is claimed by a
        conditional update: two sweeps at once never send one twice). With --schedule, also
        queue the sweep on the task worker (`confide db_worker`), which then queues itself every
        minute. Output: a count only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Scheduling: send due appointment reminders (sweep)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{sweep}")
        sweep = sub.add_parser("sweep", help="send the appointment reminders due now (once)")
        sweep.add_argument("--schedule", action="store_true", help="also queue the sweep every minute on the task worker")

    def handle(self, *args, action, **options):
        from confide.scheduling.reminders import sweep
        from confide.scheduling.tasks import schedule_sweep

        done = sweep()
        self.stdout.write(f"sweep: {done} reminders handled")
        if options["schedule"]:
            queued = schedule_sweep()
            self.stdout.write("sweep queued every minute" if queued else "this task backend cannot defer: run this command every minute from cron")
