"""The patient's notice of a compelled disclosure (DSC2; rules-and-deadlines §1.3).

    send_notice(practice_id=…, disclosure_id=…)  ->  Letter | None     once per disclosure
    sweep(now=None)  ->  int        the held notices whose until-date has passed, every practice
    on_disclosure_recorded(…)       the receiver of disclosures.signals.disclosure_recorded

Why here: the disclosures package sits below rights (layers), so it cannot keep a letter; it
sends `disclosure_recorded` inside the transaction that wrote the entry and this receiver
(connected in RightsConfig.ready) writes the notice in that same transaction: a compelled
disclosure is on record together with its notice, or with `notice_forbidden` (the law or the
order forbids telling the patient), never alone. A forbidden notice with an until-date is sent by
the sweep (`confide disclosures sweep [--schedule]`, rights/tasks.py) once that date has passed;
one without an until-date waits until staff record otherwise.

Once: `patient_notified_at` is set by a conditional update (still empty, compelled, due) before
the letter is written, in one transaction: of two sweeps racing, one updates the row and writes
the letter, the other finds nothing to do. The letter (kind disclosure_notice, template
rights/letters/disclosure_notice.txt: date, recipient, what, basis) is kept sealed under the
patient's key by `letters.keep_letter`; it goes by e-mail through the send gate when the patient
agreed to health information by e-mail, else it is marked to be printed and posted.
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from confide.access import policy
from confide.access.door import DISCLOSURE_JOB, MESSAGING_SEND_JOB, open_chart
from confide.core.errors import ConfideError
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.disclosures.models import Basis, Disclosure
from confide.rights.letters import keep_letter, render_letter
from confide.rights.models import Letter, LetterKind, LetterStatus

logger = logging.getLogger(__name__)

TEMPLATE = "rights/letters/disclosure_notice.txt"
BATCH = 500


def _due(today: datetime.date) -> Q:
    """Notices that may go now: not forbidden, or forbidden until a date that has passed."""
    return Q(notice_forbidden=False) | Q(notice_forbidden_until__isnull=False, notice_forbidden_until__lt=today)


def _deliver(practice_id, patient_id, body: str, request) -> tuple[str, str]:
    """E-mail through the send gate when the patient agreed to health information by e-mail
    (the gate checks it again, with quiet hours and the address); else a letter to post."""
    from confide.consent.services import has_consent

    if not has_consent(practice_id, patient_id, Purpose.TREATMENT, channel="email"):
        return LetterStatus.TO_PRINT, "post"
    from confide.messaging.models import Status, Topic
    from confide.messaging.services import send_message

    try:
        with transaction.atomic():
            message = send_message(
                MESSAGING_SEND_JOB.for_practice(practice_id), patient_id=patient_id, channel="email", topic=Topic.STAFF_REPLY,
                body=body, request=request,
            )  # fmt: skip
    except ConfideError:
        return LetterStatus.TO_PRINT, "post"
    if message.status in (Status.QUEUED, Status.DEFERRED, Status.SENDING, Status.SENT, Status.DELIVERED):
        return LetterStatus.SENT, "email"
    return LetterStatus.TO_PRINT, "post"


def send_notice(*, practice_id, disclosure_id, now: datetime.datetime | None = None, request=None) -> Letter | None:
    """Claim the disclosure's notice (conditional update) and keep the letter; None when it is
    not compelled, still forbidden, or already sent."""
    from confide.core.models import Practice

    now = now or timezone.now()
    today = timezone.localdate(now)
    with tenant_context(practice_id=practice_id), transaction.atomic():
        claimed = Disclosure.objects.filter(_due(today), pk=disclosure_id, compelled=True, patient_notified_at__isnull=True).update(
            patient_notified_at=now
        )
        if not claimed:
            return None
        row = Disclosure.objects.get(pk=disclosure_id)
        job = DISCLOSURE_JOB.for_practice(practice_id)
        with open_chart(job, row.patient_id, Purpose.LEGAL, categories={policy.DISCLOSURES}, request=request) as chart:
            sealed = Disclosure.objects.get(pk=disclosure_id)
            context = {
                "disclosed_on": timezone.localtime(sealed.disclosed_at).date(), "recipient": str(sealed.recipient),
                "what": str(sealed.description), "basis": Basis(sealed.basis).label, "purpose": str(sealed.purpose),
                "held_until": sealed.notice_forbidden_until if sealed.notice_forbidden else None,
            }  # fmt: skip
            patient_id = chart.patient.pk
        practice_name = Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or ""
        body = render_letter(TEMPLATE, context, practice_name=practice_name, request_row=None)
        status, channel = _deliver(practice_id, patient_id, body, request)
        letter = keep_letter(
            practice_id=practice_id, request_row=None, kind=LetterKind.DISCLOSURE_NOTICE, template=TEMPLATE, context=context,
            status=status, channel=channel, patient_id=patient_id, stored_context_keys=("disclosed_on", "held_until"),
            request=request,
        )  # fmt: skip
    logger.info("disclosure notice kept for disclosure %s (%s)", disclosure_id, status)
    return letter


def sweep(now: datetime.datetime | None = None) -> int:
    """Send every notice that may go now (held ones whose until-date passed; any a failure
    left behind), in every practice; answers how many letters were kept."""
    from confide.core.models import Practice

    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for practice_id in Practice.objects.values_list("pk", flat=True):
        with tenant_context(practice_id=practice_id):
            ids = list(
                Disclosure.objects.filter(_due(today), compelled=True, patient_notified_at__isnull=True)
                .order_by("disclosed_at").values_list("pk", flat=True)[:BATCH]
            )  # fmt: skip
        for disclosure_id in ids:
            if send_notice(practice_id=practice_id, disclosure_id=disclosure_id, now=now) is not None:
                sent += 1
    return sent


def on_disclosure_recorded(sender, *, disclosure: Disclosure, request=None, **kwargs) -> None:
    """A compelled disclosure just recorded: its notice now, in the same transaction, unless
    the law or the order forbids telling the patient (then the sweep, after the until-date)."""
    if disclosure.compelled and not disclosure.notice_forbidden:
        send_notice(practice_id=disclosure.practice_id, disclosure_id=disclosure.pk, request=request)
