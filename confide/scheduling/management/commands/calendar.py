"""`confide calendar …`: the calendar, for operators.

  confide calendar feed --clinician EMAIL [--practice SLUG]
        prints the clinician's private iCalendar feed URL (CONFIDE_BASE_URL + /calendar/feed/….ics).
        Only the token's hash is kept, so printing it means issuing a new one: any older URL of
        that clinician stops working at once (the output says so). An unknown e-mail, someone
        who is not a clinician there, or a clinician of several practices without --practice:
        one line on stderr, exit status 2, nothing written.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from confide.core.permissions import Role


class Command(BaseCommand):
    help = "The calendar: print a clinician's private iCalendar feed URL (feed)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{feed}")
        feed = sub.add_parser("feed", help="issue and print a clinician's private feed URL (older URLs stop working)")
        feed.add_argument("--clinician", required=True, metavar="EMAIL", help="the clinician's sign-in e-mail")
        feed.add_argument("--practice", metavar="SLUG", help="the practice, when the clinician works in several")

    def _fail(self, message: str) -> None:
        self.stderr.write(f"confide calendar feed: {message}")
        sys.exit(2)

    def handle(self, *args, action: str, **options):
        from confide.accounts.models import Membership, User
        from confide.core.models import Practice
        from confide.core.tenancy import tenant_context
        from confide.scheduling import feed

        email = (options["clinician"] or "").strip().lower()
        user = User.objects.filter(email__iexact=email).first() if email else None
        if user is None:
            self._fail("no account has that e-mail address.")
        practices = list(Practice.objects.all())
        if options.get("practice"):
            practices = [p for p in practices if p.slug == options["practice"]]
            if not practices:
                self._fail(f"no practice has the slug {options['practice']!r}.")
        found = []
        for practice in practices:  # memberships are tenant rows: looked at practice by practice
            with tenant_context(practice_id=practice.id):
                member = Membership.objects.filter(user=user, is_active=True).first()
            if member is not None:
                found.append((practice, member))
        if not found:
            self._fail("that account is not an active member of " + ("that practice." if options.get("practice") else "any practice."))
        if len(found) > 1:
            slugs = ", ".join(sorted(p.slug for p, _ in found))
            self._fail(f"that account works in several practices ({slugs}): say which with --practice SLUG.")
        practice, member = found[0]
        if member.role not in (Role.CLINICIAN, Role.OWNER):
            self._fail(f"that account is {Role(member.role).label.lower()} at {practice.slug}, not a clinician: only clinicians have a calendar feed.")
        token, rotated = feed.issue(None, practice_id=practice.id, membership_id=member.id, via="cli")
        self.stdout.write(feed.feed_url(token))
        if rotated:
            self.stdout.write("This is a new address: the clinician's older feed URL stopped working just now; subscribe again with this one.")
        else:
            self.stdout.write("Keep this address private: anyone who has it can read the clinician's appointment times (no patient names).")
