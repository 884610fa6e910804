"""The daily rights sweep (queue part, issue 17): acknowledgements that are due are sent, and each
practice's privacy officer(s) get one e-mail with counts — overdue, due within 3 days — and a
link to the queue (no names, no kinds: counts only).

    sweep(today=None)  ->  SweepResult(practices, acknowledged, alerted)

Idempotent per day and practice: the practice's row is locked while its sweep runs, and the
alert is sent only if no `rights:sweep:alerted` entry for that day exists (two sweeps at once, or
a second run the same day, send nothing twice). Acknowledgements are claimed by a conditional
update of the request (`acknowledged_at` empty → set), so none goes twice either."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.rights.models import OPEN_STATUSES, LetterKind, RightsRequest

logger = logging.getLogger(__name__)

SWEEP_ACTOR = system_actor("rights-sweep")
SOON_DAYS = 3


@dataclass
class SweepResult:
    practices: int = 0
    acknowledged: int = 0
    alerted: int = 0


def sweep(today: datetime.date | None = None) -> SweepResult:
    from confide.core.models import Practice

    today = today or timezone.localdate()
    result = SweepResult()
    for practice_id in Practice.objects.values_list("pk", flat=True):
        result.practices += 1
        result.acknowledged += send_due_acknowledgements(practice_id)
        result.alerted += alert_officers(practice_id, today)
    logger.info("rights sweep: %s practices, %s acknowledged, %s alerted", result.practices, result.acknowledged, result.alerted)
    return result


def send_due_acknowledgements(practice_id) -> int:
    """Every open request that must be acknowledged (CCPA §7021(a)) and has not been: the
    acknowledgement letter, sent and kept; the request marked by a conditional update."""
    from confide.rights.letters import send_letter

    with tenant_context(practice_id=practice_id):
        ids = list(RightsRequest.objects.filter(status__in=OPEN_STATUSES, ack_due_on__isnull=False, acknowledged_at__isnull=True)
                   .values_list("pk", flat=True))  # fmt: skip
    sent = 0
    for request_id in ids:
        with tenant_context(practice_id=practice_id), transaction.atomic():
            if RightsRequest.objects.filter(pk=request_id, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now()) != 1:
                continue  # another sweep claimed it
            row = RightsRequest.objects.get(pk=request_id)
            send_letter(practice_id=practice_id, request_row=row, kind=LetterKind.ACKNOWLEDGEMENT,
                        template="rights/letters/acknowledgement.txt", context={})  # fmt: skip
            sent += 1
    return sent


def officer_emails(practice_id) -> list[str]:
    from confide.accounts.models import Membership
    from confide.core.permissions import Perm, Role, role_has

    with tenant_context(practice_id=practice_id):
        rows = Membership.objects.filter(practice_id=practice_id, is_active=True, user__is_active=True).values_list("role", "user__email")
        officers = [email for role, email in rows if role == Role.PRIVACY_OFFICER and email]
        if not officers:  # no privacy officer: the owner answers for the practice
            officers = [email for role, email in rows if role == Role.OWNER and email and role_has(role, Perm.RIGHTS_QUEUE_VIEW)]
    return sorted(set(officers))


def alert_officers(practice_id, today: datetime.date) -> int:
    """One e-mail per officer per day, when anything is overdue or due within 3 days."""
    from django.core.mail import send_mail
    from django.urls import reverse

    from confide.audit.models import AuditEntry
    from confide.core.http import absolute_url
    from confide.core.models import Practice

    with tenant_context(practice_id=practice_id), transaction.atomic():
        practice = Practice.objects.select_for_update().get(pk=practice_id)
        already = AuditEntry.objects.filter(practice_id=practice_id, event=AuditEvent.RIGHTS_SWEEP_ALERTED, at__gte=timezone.now() - datetime.timedelta(days=3))
        if any(e.detail.get("day") == today.isoformat() for e in already):
            return 0
        rows = list(RightsRequest.objects.filter(status__in=OPEN_STATUSES).only("id", "due_on", "extended_due_on"))
        overdue = [r.pk for r in rows if r.answer_due_on < today]
        soon = [r.pk for r in rows if today <= r.answer_due_on <= today + datetime.timedelta(days=SOON_DAYS)]
        if not overdue and not soon:
            return 0
        to = officer_emails(practice_id)
        record(AuditEvent.RIGHTS_SWEEP_ALERTED, practice_id=practice_id, actor=SWEEP_ACTOR, purpose=Purpose.OPERATIONS.value,
               resource_ids=[*overdue, *soon], detail={"day": today.isoformat(), "overdue": len(overdue), "soon": len(soon),
                                                       "recipients": len(to)})  # fmt: skip
        if to:
            subject = f"{practice.name}: privacy requests need attention"
            body = (
                f"Privacy requests at {practice.name} on {today:%-d %B %Y}:\n\n"
                f"  overdue: {len(overdue)}\n  due within {SOON_DAYS} days: {len(soon)}\n\n"
                f"Open the queue to answer them: {absolute_url(reverse('rights:queue'))}\n"
            )
            transaction.on_commit(lambda: send_mail(subject, body, None, to), robust=True)
    return 1
