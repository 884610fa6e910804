"""`confide portal …`: the patient portal's operator commands.

  confide portal age-check [--schedule]
        run the 18th-birthday job once (confide/records/majority.py): end every parent's or
        guardian's portal access to a patient who has turned 18, tell them, and invite the adult
        to their own account. Idempotent: run it daily from cron, or pass --schedule to also queue
        the daily run on the task worker (`confide db_worker`), which then queues itself each day.

Output: counts only, never a name or an id.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "The patient portal: the daily 18th-birthday check."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{age-check}")
        check = sub.add_parser("age-check", help="end guardians' access to patients who turned 18 (once)")
        check.add_argument("--schedule", action="store_true", help="also queue the daily run on the task worker")

    def handle(self, *args, action, **options):
        from confide.records.majority import end_representation_at_majority
        from confide.records.tasks import schedule_age_check

        run = end_representation_at_majority()
        self.stdout.write(
            f"age check: {run.checked} represented patients checked, {len(run.came_of_age)} came of age, "
            f"{run.links_ended} guardian links ended, {run.invited} invited, {run.practice_told} to invite in person"
        )
        if options["schedule"]:
            queued = schedule_age_check()
            self.stdout.write("daily run queued" if queued else "this task backend cannot defer: run this command daily from cron")
