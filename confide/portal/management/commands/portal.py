"""`confide portal …`: the patient portal, for operators.

  confide portal invite --patient UUID [--email ADDRESS]
        invite a patient to their own portal account: the e-mail is sent (to ADDRESS, or the
        chart's address) and the link it carries is printed, for the demo and for support.

Output: the link only (it is the invitation: treat it like a password). Never a name.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from confide.core.errors import InvalidInput, NotFound
from confide.records.portal_access import do_operator_invite


class Command(BaseCommand):
    help = "The patient portal: invite a patient (prints the invitation link)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{invite}")
        invite = sub.add_parser("invite", help="invite a patient to their own portal account; prints the link")
        invite.add_argument("--patient", required=True, metavar="UUID", help="the patient's record id")
        invite.add_argument("--email", metavar="ADDRESS", help="send to this address (default: the chart's e-mail)")

    def handle(self, *args, action, **options):
        try:
            link = do_operator_invite(patient_id=options["patient"], email=options.get("email"))
        except NotFound:
            raise CommandError("no patient with that id") from None
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(link)
