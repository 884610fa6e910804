"""The job that tells everyone a material change to the privacy notice affects, before it
applies (POL2): every active member of staff, and every active patient with an e-mail address.

It lives here, above the chart door, because patient addresses are PHI: they are read through
the door as the `policy-notice-job` system actor (contact.email, for operations: one
`records:patients:listed` entry per batch), and an e-mail leaves only if the egress gate permits
it (the email processor declared, in use, with a BAA on file). The message, the staff list and
the one-delivery-per-recipient record are the policy's own (confide/policy/notices.py).
Publishing a material version (`policy.services.do_publish_policy`) sends
`material_version_published` after commit; the receiver below enqueues the job."""

from __future__ import annotations

import logging
import uuid
from collections import Counter

from django.core.mail import send_mail
from django.dispatch import receiver
from django_tasks import task

from confide.access.door import POLICY_NOTICE_JOB, open_patient_list
from confide.audit.chain import system_actor
from confide.core.models import Practice
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.policy.egress import EgressRefused, check_egress
from confide.policy.models import PolicyVersion
from confide.policy.notices import deliver_once, notice_message, notify_staff
from confide.policy.signals import material_version_published
from confide.records.models import Patient

logger = logging.getLogger(__name__)

BATCH = 100


@receiver(material_version_published, dispatch_uid="confide.records.policy_notices.enqueue")
def enqueue_material_notice(sender, *, version_id, practice_id, **kwargs) -> None:
    send_material_notice.enqueue(str(version_id), str(practice_id))


def _notify_patients(practice, version, subject: str, body: str) -> Counter:
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
                        categories={"contact.email"}, actor=system_actor(actor.name), subject_ids=[patient_id],
                    )  # fmt: skip
                except EgressRefused as refused:
                    return "refused", refused.code
                send_mail(subject, body, None, [email])
                return "sent", ""

            outcomes[deliver_once(version, "patient", str(patient_id), send)] += 1
    return outcomes


@task()
def send_material_notice(version_id: str, practice_id: str) -> dict:
    """E-mail everyone a material change affects; returns counts (ids only in the result): sent to
    staff, sent to patients, and refused because the message could not be built."""
    practice = Practice.objects.get(pk=uuid.UUID(practice_id))
    with tenant_context(practice_id=practice.id):
        version = PolicyVersion.objects.get(pk=uuid.UUID(version_id))
        subject, body = notice_message(practice, version)
        staff = notify_staff(practice, version, subject, body)
        patients = _notify_patients(practice, version, subject, body)
    counts = {"staff": staff["sent"], "patients": patients["sent"], "refused": staff["refused"] + patients["refused"]}
    logger.info("material notice sent", extra={"count": counts["staff"] + counts["patients"], "object_id": version_id})
    return counts
