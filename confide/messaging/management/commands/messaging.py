"""`confide messaging …`: the messaging pipeline, for operators.

  confide messaging sweep [--schedule]
        deliver what is due now, once: deferred texts whose allowed hour has come, retries whose
        backoff ran out, and sends whose worker died (their lease ran out: the provider is asked
        first, so nothing goes twice). With --schedule, also queue the sweep on the task worker
        (`confide db_worker`), which then queues itself every minute. Output: a count only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Messaging: re-queue due deferred texts and sends whose worker died (sweep)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{sweep}")
        sweep = sub.add_parser("sweep", help="deliver due deferred messages and recover stale sends (once)")
        sweep.add_argument("--schedule", action="store_true", help="also queue the sweep every minute on the task worker")

    def handle(self, *args, action, **options):
        from confide.messaging.tasks import schedule_sweep, sweep

        done = sweep()
        self.stdout.write(f"sweep: {done} messages handled")
        if options["schedule"]:
            queued = schedule_sweep()
            self.stdout.write("sweep queued every minute" if queued else "this task backend cannot defer: run this command every minute from cron")
