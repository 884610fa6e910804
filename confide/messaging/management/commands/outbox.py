"""`confide outbox`: what the console SMS adapter "sent" (nothing left the machine).

  confide outbox [--practice SLUG] [--limit N] [--json]
        newest first: id, channel, kind, the recipient's blind id (never the number), time,
        the message's status. Never the body.

  confide outbox --show-body --officer EMAIL [--practice SLUG] [--limit N] [--json]
        the same with each body, read through the chart door as that privacy officer (each
        opening audited, purpose operations). EMAIL must be an active privacy officer of the
        practice; the list is that practice's.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from confide.core.errors import ConfideError


class Command(BaseCommand):
    help = "The console SMS outbox: what was 'sent' (ids and blind ids; bodies only for a privacy officer)."

    def add_arguments(self, parser):
        parser.add_argument("--practice", metavar="SLUG", help="only this practice (default: every practice)")
        parser.add_argument("--limit", type=int, default=50, metavar="N", help="at most N per practice, newest first (default 50)")
        parser.add_argument("--json", action="store_true", help="one JSON array")
        parser.add_argument("--show-body", action="store_true", help="include each body (needs --officer)")
        parser.add_argument("--officer", metavar="EMAIL", help="the privacy officer reading the bodies")

    def handle(self, *args, practice=None, limit=50, json=False, show_body=False, officer=None, **options):
        from confide.core.models import Practice

        if not 1 <= limit <= 10_000:
            raise CommandError("--limit must be between 1 and 10000")
        if officer and not show_body:
            raise CommandError("--officer is for --show-body only")
        if show_body and not officer:
            raise CommandError("--show-body needs --officer EMAIL (a privacy officer of the practice)")
        practices = Practice.objects.order_by("slug")
        if practice:
            practices = practices.filter(slug=practice)
            if not practices.exists():
                raise CommandError(f"no practice with slug {practice!r}")
        actor = None
        if show_body:
            actor = _officer(officer, list(practices))
            practices = practices.filter(pk=actor.practice_id)
        rows = []
        for each in practices:
            rows.extend(_rows(each, limit, actor))
        self._print(rows, as_json=json, show_body=show_body)

    def _print(self, rows: list[dict], *, as_json: bool, show_body: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("the outbox is empty")
            return
        for row in rows:
            self.stdout.write(f"{row['time']}  {row['practice']:<12} {row['channel']:<5} {row['kind']:<11} to {row['recipient']}  "
                              f"{row['status']:<9} {row['id']}")  # fmt: skip
            if show_body:
                self.stdout.write(f"    {row['body']}" if row["body"] is not None else "    (no body kept: an automatic reply)")


def _officer(email: str, practices):
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context

    member_anywhere = False
    for practice in practices:
        with tenant_context(practice_id=practice.id):
            memberships = list(Membership.objects.filter(user__email__iexact=email, is_active=True, user__is_active=True))
        member_anywhere = member_anywhere or bool(memberships)
        for membership in memberships:
            if membership.role == Role.PRIVACY_OFFICER:
                return StaffActor.from_membership(membership)
    if not member_anywhere:
        raise CommandError(f"{email} is not an active member of {'that practice' if len(practices) == 1 else 'any practice'}")
    raise CommandError(f"{email} is not a privacy officer: only a practice's privacy officer may read the outbox's bodies")


def _rows(practice, limit: int, actor) -> list[dict]:
    from confide.messaging.outbox import outbox_rows

    rows = []
    for row in outbox_rows(practice.id, limit=limit):
        item = {
            "id": str(row.id), "practice": practice.slug, "channel": row.channel, "kind": row.kind,
            "recipient": row.recipient_blind, "time": row.created_at.isoformat(timespec="seconds"), "status": row.status or "sent",
            "message": str(row.message_id) if row.message_id else None,
        }  # fmt: skip
        if actor is not None:
            item["body"] = _body(actor, row)
        rows.append(item)
    return rows


def _body(actor, row):
    from confide.access.door import open_chart
    from confide.access.policy import MESSAGES
    from confide.core.purposes import Purpose
    from confide.messaging.models import OutboxEntry

    if row.patient_id is None:
        return None
    try:
        with open_chart(actor, row.patient_id, Purpose.OPERATIONS, categories={MESSAGES}):
            return OutboxEntry.objects.get(pk=row.id).body
    except ConfideError as exc:
        raise CommandError(f"the chart door refused: {exc}") from None
