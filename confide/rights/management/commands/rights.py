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

  confide rights export --patient UUID --out FILE.zip [--practice SLUG]
        the patient's whole copy (confide/rights/export.py: data.json, fhir/bundle.json, summary.pdf,
        files/…, consents.json, disclosures.json) written with mode 0600; never psychotherapy notes
        (those go only into a copy for a request on which staff recorded the patient's authorization).
        A malformed or unknown patient, a patient of another practice than --practice, or a path
        that cannot be written: a one-line error, exit status 2, nothing written.

Output names the patient id, the file and counts: never a name or any other value from a record.
"""

from __future__ import annotations

import logging
import uuid

from django.core.management.base import BaseCommand, CommandError

from confide.core.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)
USAGE_ERROR = 2


class Command(BaseCommand):
    help = "Rights requests: route a request that reached the operator (route); the daily sweep (sweep); a patient's copy (export)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{route,sweep,export}")
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
        # --- part "export"
        exp = sub.add_parser("export", help="write a patient's copy of their information as a ZIP")
        exp.add_argument("--patient", required=True, metavar="UUID")
        exp.add_argument("--out", required=True, metavar="FILE.zip", help="written with mode 0600 (replaced if it exists)")
        exp.add_argument("--practice", metavar="SLUG", help="the practice the patient must belong to (optional: found from the patient)")

    def handle(self, *args, action, **options):
        if action == "route":
            self._route(options)
        elif action == "sweep":
            self._sweep(options)
        elif action == "export":
            self._export(options["patient"], options["out"], options.get("practice"))

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

    def _export(self, raw_id: str, out_path: str, slug: str | None) -> None:
        from confide.records.fhir import practice_by_slug, practice_of_patient
        from confide.rights.export import export_to_path

        try:
            patient_id = uuid.UUID(raw_id)
        except ValueError:
            raise CommandError(f"--patient must be a patient id (UUID); got {raw_id[:40]!r}", returncode=USAGE_ERROR) from None
        if slug is not None:
            try:
                practice = practice_by_slug(slug)
            except NotFound:
                raise CommandError(f"no practice with slug {slug!r}", returncode=USAGE_ERROR) from None
        try:
            if slug is not None:
                if practice_of_patient(patient_id) != practice.id:
                    raise NotFound("patient")
            result = export_to_path(patient_id, out_path)
        except NotFound:
            where = f" in practice {slug!r}" if slug else ""
            raise CommandError(f"no patient with id {patient_id}{where}", returncode=USAGE_ERROR) from None
        except InvalidInput as exc:
            raise CommandError(str(exc), returncode=USAGE_ERROR) from None
        except OSError as exc:
            raise CommandError(f"cannot write {out_path}: {exc.strerror or type(exc).__name__}", returncode=USAGE_ERROR) from None
        counts = result.counts
        rows = sum(counts.sections.values())
        self.stdout.write(
            f"patient {result.patient_id} -> {result.path} ({result.size} bytes: {rows} entries in {len(counts.sections)} sections, "
            f"{counts.files} files)"
        )
