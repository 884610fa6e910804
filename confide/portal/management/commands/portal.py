"""`confide portal …`: the patient portal, for operators.

  confide portal invite --patient UUID [--email ADDRESS]
        invite a patient to their own portal account: the e-mail is sent (to ADDRESS, or the
        chart's address) and the link it carries is printed, for the demo and for support.
        Output: the link only (it is the invitation: treat it like a password). Never a name.

  confide portal age-check [--schedule]
        run the 18th-birthday job once (confide/records/majority.py): end every parent's or
        guardian's portal access to a patient who has turned 18, tell them, and invite the adult
        to their own account. Idempotent: run it daily from cron, or pass --schedule to also queue
        the daily run on the task worker (`confide db_worker`), which then queues itself each day.
        Output: counts only, never a name or an id.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from confide.core.errors import InvalidInput, NotFound


class Command(BaseCommand):
    help = "The patient portal: invite a patient (prints the invitation link); the daily 18th-birthday check."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{invite,age-check}")
        invite = sub.add_parser("invite", help="invite a patient to their own portal account; prints the link")
        invite.add_argument("--patient", required=True, metavar="UUID", help="the patient's record id")
        invite.add_argument("--email", metavar="ADDRESS", help="send to this address (default: the chart's e-mail)")
        check = sub.add_parser("age-check", help="end guardians' access to patients who turned 18 (once)")
        check.add_argument("--schedule", action="store_true", help="also queue the daily run on the task worker")

    def handle(self, *args, action, **options):
        if action == "invite":
            self._invite(options)
        else:
            self._age_check(options)

    def _invite(self, options) -> None:
        from confide.records.portal_access import do_operator_invite

        try:
            link = do_operator_invite(patient_id=options["patient"], email=options.get("email"))
        except NotFound:
            raise CommandError("no patient with that id") from None
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(link)

    def _age_check(self, options) -> None:
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
