"""Telling people about a material change to a practice's privacy notice before it applies (POL2):
the message, the staff to tell, and the one-delivery-per-recipient record.

`do_publish_policy` sends `signals.material_version_published` when a material version commits;
the job that e-mails everyone (`confide/records/policy_notices.py`, run by `confide db_worker`)
lives above the chart door, because patient addresses are PHI read through it. It uses this
module for:

* the message: the practice's name, the summary the privacy officer wrote, the date it takes
  effect and a link to the new version — nothing about the recipient beyond the address it goes to;
* every active staff member of the practice, at their account address (`notify_staff`);
* one `NoticeDelivery` row per recipient (sent, or refused with the egress gate's code), unique
  per version, recipient and channel, so a retried task never mails anyone twice (`deliver_once`).

The in-app banner and who saw or accepted the change: confide/policy/acknowledgements.py.
"""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings
from django.core.mail import BadHeaderError, send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

logger = logging.getLogger(__name__)

BAD_HEADER = "bad_header"  # NoticeDelivery.reason when Django refused to build the message's headers


def version_url(practice_slug: str, number: int) -> str:
    path = reverse("policy:notice-version", kwargs={"practice_slug": practice_slug, "number": number})
    return f"{settings.CONFIDE_BASE_URL.rstrip('/')}{path}"


def notice_message(practice, version) -> tuple[str, str]:
    subject = f"{practice.name}: changes to our privacy notice from {version.effective_at:%B %-d, %Y}"
    body = (
        f"{practice.name} is changing its privacy notice.\n\n"
        f"What changes: {version.summary}\n\n"
        f"The new version takes effect on {version.effective_at:%B %-d, %Y} (UTC). Until then the current notice applies.\n\n"
        f"Read the new version: {version_url(practice.slug, version.number)}\n\n"
        "You are receiving this because the practice must tell you about material changes before they apply.\n"
    )
    return subject, body


def deliver_once(version, kind: str, recipient_id: str, send) -> str | None:
    """Record, then send; a second run finds the row and skips (returns None). A failed send rolls the
    row back, except a message whose headers Django refuses to build (a line break in the
    practice's name or an address: header injection): no retry could send that, so the delivery
    is recorded as refused (`bad_header`) and logged by id, and the other recipients still get
    theirs. Returns the outcome recorded."""
    from confide.policy.models import NoticeDelivery

    try:
        with transaction.atomic():
            row = NoticeDelivery.objects.create(
                practice_id=version.practice_id, version=version, recipient_kind=kind, recipient_id=recipient_id,
                outcome=NoticeDelivery.Outcome.SENT,
            )  # fmt: skip
            try:
                outcome, reason = send()
            except BadHeaderError:
                logger.error(
                    "material notice refused: the message has an invalid header (a line break in the practice's name?)",
                    extra={"practice_id": str(version.practice_id), "object_id": str(version.pk), "event": f"{kind}:{recipient_id}"},
                )  # fmt: skip
                outcome, reason = NoticeDelivery.Outcome.REFUSED, BAD_HEADER
            if outcome != NoticeDelivery.Outcome.SENT:
                NoticeDelivery.objects.filter(pk=row.pk).update(outcome=outcome, reason=reason)
    except IntegrityError:
        return None
    return outcome


def notify_staff(practice, version, subject: str, body: str) -> Counter:
    """Every active member of staff, at their account address: a Counter of outcomes recorded."""
    from confide.accounts.models import Membership

    members = Membership.objects.filter(is_active=True, user__is_active=True).values_list("user_id", "user__email").order_by("user_id")
    outcomes = Counter()
    for user_id, email in members:

        def send(email=email):
            send_mail(subject, body, None, [email])
            return "sent", ""

        outcomes[deliver_once(version, "staff", str(user_id), send)] += 1
    return outcomes
