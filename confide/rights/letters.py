"""Letters about rights requests: rendered from a template, kept with the request (sealed under
the patient's key when the request has a patient), and recorded in the audit log (ids only).

    keep_letter(practice_id=…, request_row=…, kind=LetterKind.…, template="rights/letters/….txt",
                context={…}, status=LetterStatus.TO_PRINT, channel="post", patient_id=None)  ->  Letter

The template receives `context` plus `practice` (the practice's name) and `request` (the row).
Only dates and kinds are stored in `Letter.context`, never a name or contact data; the rendered
body (which may name what was asked) is sealed. Writing the body opens the chart as the
`rights-letter-job` system job (categories: the messages category only)."""

from __future__ import annotations

import datetime
import uuid

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from confide.access.door import RIGHTS_LETTER_JOB, open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.rights.models import Letter, LetterKind, LetterStatus, RightsRequest

MESSAGES = "communications.messages"


def _plain(value):
    """What `Letter.context` may keep: dates, numbers, booleans and short codes."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)[:80]


def render_letter(template: str, context: dict, *, practice_name: str, request_row: RightsRequest | None) -> str:
    return render_to_string(template, {**context, "practice": practice_name, "request": request_row}).strip() + "\n"


def keep_letter(
    *, practice_id, request_row: RightsRequest | None, kind, template: str, context: dict, status=LetterStatus.TO_PRINT,
    channel: str = "post", patient_id=None, stored_context_keys=(), request=None,
) -> Letter:  # fmt: skip
    """Render and keep one letter, with its `rights:letter:sent` audit entry."""
    from confide.core.models import Practice

    kind = LetterKind(kind)
    patient_id = patient_id or (request_row.patient_id if request_row is not None else None)
    practice_name = Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or ""
    body = render_letter(template, context, practice_name=practice_name, request_row=request_row)
    stored = {key: _plain(context[key]) for key in stored_context_keys if key in context}
    fields = dict(
        practice_id=practice_id, request=request_row, patient_id=patient_id, kind=kind.value, status=LetterStatus(status).value,
        channel=channel, sent_at=timezone.now(), template=template, context=stored,
    )  # fmt: skip

    def write(**sealed) -> Letter:
        made = Letter.objects.create(**fields, **sealed)
        record(
            AuditEvent.RIGHTS_LETTER_SENT, practice_id=practice_id, actor=system_actor(job.name), purpose=Purpose.PATIENT_REQUEST.value,
            subject_id=patient_id, resource_ids=[r for r in (request_row.pk if request_row else None, made.pk) if r],
            categories=[MESSAGES] if sealed else [], detail={"kind": kind.value, "channel": channel, "status": made.status},
            request=request,
        )  # fmt: skip
        return made

    job = RIGHTS_LETTER_JOB.for_practice(practice_id)
    if patient_id is not None:
        with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories=job.categories, request=request, for_update=True):
            return write(body=body)
    with tenant_context(practice_id=practice_id), transaction.atomic():
        return write()


# --- queue part (issue 17): keeping a letter AND delivering it ------------------------------------
def delivery_channel(practice_id, patient_id) -> str:
    """How a letter reaches a patient with a chart (the letter is one they asked for, so it goes
    like a message about their care): e-mail when they agreed to health information by e-mail
    (phi_by_email), else the portal when they have an account there, else the post (staff print it)."""
    from confide.accounts.models import PortalLink
    from confide.consent.services import has_consent

    if has_consent(practice_id, patient_id, Purpose.TREATMENT, channel="email"):
        return "email"
    with tenant_context(practice_id=practice_id):
        if PortalLink.objects.filter(patient_id=patient_id, is_active=True).exists():
            return "portal"
    return "post"


UNMATCHED_SUBJECT = "Your privacy request"
UNMATCHED_BODY = (
    "{practice} has written to you about the privacy request you made.\n\n"
    "For your privacy this e-mail says nothing more. To read the letter, call the practice or ask for it "
    "to be posted to you.\n\n{practice}\n"
)


def send_letter(
    *, practice_id, request_row: RightsRequest | None, kind, template: str, context: dict, stored_context_keys=(),
    to_email: str = "", request=None,
) -> Letter:  # fmt: skip
    """Render, deliver and keep one letter (one transaction: the message and the kept letter
    together, or neither).

    To a patient with a chart: through the messaging send gate (topic `rights_letter`) by the
    channel `delivery_channel` picks; a refusal by the gate falls back to the portal, then to
    printing. To a requester not yet matched to a chart (the public form): `to_email`, if given,
    gets a fixed e-mail with no health information in it (UNMATCHED_BODY); else it is printed."""
    from django.core.mail import send_mail

    from confide.access.door import MESSAGING_SEND_JOB
    from confide.core.models import Practice
    from confide.messaging.models import Status
    from confide.messaging.services import send_message

    kind = LetterKind(kind)
    patient_id = request_row.patient_id if request_row is not None else None
    practice_name = Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or ""
    with transaction.atomic():
        status, channel = LetterStatus.TO_PRINT, "post"
        if patient_id is not None:
            body = render_letter(template, context, practice_name=practice_name, request_row=request_row)
            job = MESSAGING_SEND_JOB.for_practice(practice_id)
            wanted = delivery_channel(practice_id, patient_id)
            for attempt in (("email", "portal") if wanted == "email" else ("portal",) if wanted == "portal" else ()):
                message = send_message(job, patient_id=patient_id, channel=attempt, topic="rights_letter", body=body,
                                       subject_key=f"rights:{kind.value}", request=request)  # fmt: skip
                if message.status != Status.REFUSED:
                    status, channel = LetterStatus.SENT, attempt
                    break
        elif to_email:
            subject, text = UNMATCHED_SUBJECT, UNMATCHED_BODY.format(practice=practice_name)
            transaction.on_commit(lambda: send_mail(subject, text, None, [to_email]), robust=True)
            status, channel = LetterStatus.SENT, "email"
        return keep_letter(
            practice_id=practice_id, request_row=request_row, kind=kind, template=template, context=context, status=status,
            channel=channel, stored_context_keys=stored_context_keys, request=request,
        )  # fmt: skip
