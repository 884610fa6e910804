"""Telling people about a material change to a practice's privacy notice before it applies (POL2).

`do_publish_policy` enqueues `send_material_notice` when a material version commits. The task
(run by `confide db_worker`) e-mails:

* every active staff member of the practice, at their account address;
* every active patient with a registered e-mail address. Patient addresses are PHI: they are
  read through the chart door as the `policy-notice-job` system actor (contact.email, for
  operations: one `records:patients:listed` entry per batch), and the e-mail leaves only if the
  egress gate permits it (the email processor declared, in use, with a BAA on file).

Each recipient gets one `NoticeDelivery` row (sent, or refused with the gate's code), unique per
version, recipient and channel, so a retried task never mails anyone twice. The e-mail holds the
practice's name, the summary the privacy officer wrote, the date it takes effect and a link to
the new version: nothing about the recipient beyond the address it goes to. The in-app banner
and who saw or accepted the change: confide/policy/acknowledgements.py.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter

from django.conf import settings
from django.core.mail import BadHeaderError, send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django_tasks import task

from confide.core.tenancy import tenant_context

logger = logging.getLogger(__name__)

BATCH = 100
BAD_HEADER = "bad_header"  # NoticeDelivery.reason when Django refused to build the message's headers


def enqueue_material_notice(version_id, practice_id) -> None:
    send_material_notice.enqueue(str(version_id), str(practice_id))


def version_url(practice_slug: str, number: int) -> str:
    path = reverse("policy:notice-version", kwargs={"practice_slug": practice_slug, "number": number})
    return f"{settings.CONFIDE_BASE_URL.rstrip('/')}{path}"


def _message(practice, version) -> tuple[str, str]:
    subject = f"{practice.name}: changes to our privacy notice from {version.effective_at:%B %-d, %Y}"
    body = (
        f"{practice.name} is changing its privacy notice.\n\n"
        f"What changes: {version.summary}\n\n"
        f"The new version takes effect on {version.effective_at:%B %-d, %Y} (UTC). Until then the current notice applies.\n\n"
        f"Read the new version: {version_url(practice.slug, version.number)}\n\n"
        "You are receiving this because the practice must tell you about material changes before they apply.\n"
    )
    return subject, body


def _deliver_once(version, kind: str, recipient_id: str, send) -> str | None:
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


def _notify_staff(practice, version, subject: str, body: str) -> int:
    from confide.accounts.models import Membership

    members = Membership.objects.filter(is_active=True, user__is_active=True).values_list("user_id", "user__email").order_by("user_id")
    outcomes = Counter()
    for user_id, email in members:

        def send(email=email):
            send_mail(subject, body, None, [email])
            return "sent", ""

        outcomes[_deliver_once(version, "staff", str(user_id), send)] += 1
    return outcomes


def _notify_patients(practice, version, subject: str, body: str) -> int:
    from confide.access.door import POLICY_NOTICE_JOB, open_patient_list
    from confide.access.purposes import Purpose
    from confide.policy.egress import EgressRefused, check_egress
    from confide.records.models import Patient

    actor = POLICY_NOTICE_JOB.for_practice(practice.id)
    ids = list(Patient.objects.filter(is_active=True).order_by("id").values_list("id", flat=True))
    outcomes = Counter()
    for start in range(0, len(ids), BATCH):
        with open_patient_list(actor, Purpose.OPERATIONS, ids[start : start + BATCH], categories=POLICY_NOTICE_JOB.categories) as patients:
            addresses = [(p.pk, p.email) for p in patients if p.email]
        for patient_id, email in addresses:

            def send(patient_id=patient_id, email=email):
                try:
                    check_egress(
                        practice_id=practice.id, processor_id="email", purpose=Purpose.OPERATIONS,
                        categories={"contact.email"}, actor=actor_audit(actor), subject_ids=[patient_id],
                    )  # fmt: skip
                except EgressRefused as refused:
                    return "refused", refused.code
                send_mail(subject, body, None, [email])
                return "sent", ""

            outcomes[_deliver_once(version, "patient", str(patient_id), send)] += 1
    return outcomes


def actor_audit(system_actor):
    from confide.audit.chain import system_actor as audit_system_actor

    return audit_system_actor(system_actor.name)


@task()
def send_material_notice(version_id: str, practice_id: str) -> dict:
    """E-mail everyone a material change affects; returns counts (ids only in the result):
    sent to staff, sent to patients, and refused because the message could not be built."""
    from confide.core.models import Practice
    from confide.policy.models import PolicyVersion

    practice = Practice.objects.get(pk=uuid.UUID(practice_id))
    with tenant_context(practice_id=practice.id):
        version = PolicyVersion.objects.get(pk=uuid.UUID(version_id))
        subject, body = _message(practice, version)
        staff = _notify_staff(practice, version, subject, body)
        patients = _notify_patients(practice, version, subject, body)
    counts = {"staff": staff["sent"], "patients": patients["sent"], "refused": staff["refused"] + patients["refused"]}
    logger.info("material notice sent", extra={"count": counts["staff"] + counts["patients"], "object_id": version_id})
    return counts
