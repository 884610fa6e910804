"""`confide rights …`: rights requests, for operators.

  confide rights route --practice SLUG --kind KIND --received YYYY-MM-DD --channel email
                       --given-name … --family-name … --dob YYYY-MM-DD --email ADDRESS [--role patient|guardian]
        a request about a practice's patient that reached the operator of the deployment (RTS9):
        it lands in that practice's queue (channel operator, verification pending); a code goes
        to the contact the practice holds and the requester is e-mailed the practice's
        verification page. Output: the request's id and due date only. An unknown practice or a
        bad value: an error, nothing written.

  confide rights sweep [--schedule]
        send the acknowledgements that are due and e-mail each practice's privacy officer(s) the
        number of overdue requests and of those due within 3 days (once a day: a second run the
        same day sends nothing). With --schedule, also queue the sweep on the task worker
        (`confide db_worker`), which then queues itself daily. Output: counts only.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Rights requests: route a request that reached the operator (route); the daily sweep (sweep)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{route,sweep}")
        # --- part "intake"
        route = sub.add_parser("route", help="route a request that reached the operator to the practice's queue (RTS9)")
        route.add_argument("--practice", required=True, help="the practice's address name (its slug)")
        route.add_argument("--kind", required=True, help="see, copy, correct, delete, opt_out_sale, limit_sensitive, "
                           "opt_out_profiling, accounting, shine_the_light, appeal, other")
        route.add_argument("--received", default="", help="when it reached the operator (YYYY-MM-DD; default today)")
        route.add_argument("--channel", default="email", help="how it reached the operator (e-mail, letter, phone: kept as 'operator')")
        route.add_argument("--given-name", required=True)
        route.add_argument("--family-name", required=True)
        route.add_argument("--dob", required=True, help="the patient's date of birth, YYYY-MM-DD")
        route.add_argument("--email", required=True, help="the requester's e-mail address (the verification link goes there)")
        route.add_argument("--role", default="patient", choices=["patient", "guardian"])
        # --- end part "intake"

        # --- queue part
        sweep = sub.add_parser("sweep", help="send due acknowledgements and today's overdue alerts (once a day)")
        sweep.add_argument("--schedule", action="store_true", help="also queue the sweep daily on the task worker")

    def handle(self, *args, action, **options):
        if action == "route":
            self._route(options)
        elif action == "sweep":
            self._sweep(options)

    def _sweep(self, options):
        from confide.rights.sweep import sweep
        from confide.rights.tasks import schedule_sweep

        done = sweep()
        self.stdout.write(f"sweep: {done.practices} practices, {done.acknowledged} acknowledgements sent, {done.alerted} alerts sent")
        if options["schedule"]:
            queued = schedule_sweep()
            self.stdout.write("sweep queued daily" if queued else "this task backend cannot defer: run this command daily from cron")

    def _route(self, options):
        from confide.core.errors import InvalidInput
        from confide.rights.intake import do_route_request

        try:
            filed = do_route_request(
                practice_slug=options["practice"], kind=options["kind"], received=options["received"], channel=options["channel"],
                given_name=options["given_name"], family_name=options["family_name"], date_of_birth=options["dob"],
                email=options["email"], role=options["role"],
            )  # fmt: skip
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        row = filed.request
        self.stdout.write(f"routed: request {row.pk} in the practice's queue, answer due {row.due_on.isoformat()}")
