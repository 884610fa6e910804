"""`confide retention run [--dry-run] [--schedule]`: the retention engine (RET1, RET2) for cron
or an operator. Prints counts and record references, never a name."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Apply the retention periods of the declaration in force: archive closed accounts, destroy what has expired."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        runner = sub.add_parser("run", help="run the schedule in every practice")
        runner.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")
        runner.add_argument("--schedule", action="store_true", help="queue the daily background run instead (database task backend)")

    def handle(self, *args, **options):
        from confide.retention.engine import reference, run
        from confide.retention.tasks import schedule_daily

        if options["schedule"]:
            if not schedule_daily():
                raise CommandError("this task backend cannot queue a later run: run `confide retention run` from cron instead")
            self.stdout.write("The daily retention run is queued.")
            return
        dry = options["dry_run"]
        for report in run(dry_run=dry):
            verb = "would" if dry else "did"
            counts = report.counts()
            self.stdout.write(
                f"practice {report.practice_id}: {verb} archive {counts['archived']}, destroy {counts['destroyed']}, "
                f"hold {counts['held']} (legal hold)"
            )
            for label, ids in (("archive", report.archived), ("destroy", report.destroyed), ("held", report.held)):
                for pk in ids:
                    self.stdout.write(f"  {label}: {reference(pk)}")
