"""`confide practice …`: set up a real practice.

  confide practice create --name NAME --slug SLUG --owner-email EMAIL
        creates the practice with the default policy, its vault key and audit chain, and sends
        the owner an invitation (the configured e-mail backend; `make run`: CONFIDE_DATA_DIR/outbox/).
        Prints the practice's addresses. Bad input: one line on stderr, exit 1, nothing written.
  confide practice setup-code
        prints the code the first-run page (/setup/) asks for, making it if needed; only useful
        while the database has no practice.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from confide.core.models import Practice
from confide.site.practices import PracticeInputError, create_practice, ensure_setup_code, setup_code_path


class Command(BaseCommand):
    help = "Set up a real practice: create it and invite its owner; print the first-run setup code."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,setup-code}")
        create = sub.add_parser("create", help="create a practice and e-mail its owner an invitation")
        create.add_argument("--name", required=True, help="the practice's name, as patients know it")
        create.add_argument("--slug", required=True, help="lower-case letters, digits and dashes: its public pages are /p/SLUG/…")
        create.add_argument("--owner-email", required=True, metavar="EMAIL", help="who is invited as the practice's owner")
        sub.add_parser("setup-code", help="print the code the first-run page asks for")

    def handle(self, *args, action: str, **options):
        if action == "setup-code":
            return self._setup_code()
        try:
            practice, invitation = create_practice(
                name=options["name"], slug=options["slug"], owner_email=options["owner_email"], via="cli"
            )
        except PracticeInputError as exc:
            # One clear line, exit 1 (CommandError would do the same but prefixes "CommandError:").
            self.stderr.write(f"confide practice create: {exc}")
            sys.exit(1)
        base = settings.CONFIDE_BASE_URL.rstrip("/")
        self.stdout.write(f"Created {practice.name} ({practice.slug}).")
        self.stdout.write(f"Practice URL: {base}{reverse('policy:notice', args=[practice.slug])}")
        self.stdout.write(f"Staff sign in at: {base}{reverse('accounts:login')}")
        self.stdout.write(
            f"Invitation sent to {invitation.email} (expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC); "
            "the owner sets a password and an authenticator app from its link."
        )

    def _setup_code(self) -> None:
        if Practice.objects.exists():
            self.stderr.write("confide practice setup-code: a practice exists already, so the first-run page is closed.")
            sys.exit(1)
        code = ensure_setup_code()
        self.stdout.write(code)
        self.stdout.write(f"(kept in {setup_code_path()}; enter it on /setup/ to create the first practice)", self.style.NOTICE)
