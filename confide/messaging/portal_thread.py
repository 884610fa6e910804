"""The patient's side of the conversation (the portal's messages tab, MSG1, MSG5).

    read_my_thread(actor)                       what the patient sees; marks the practice's messages read
    do_write(actor, body=…, upload=None)        the patient's message (and file), received as the patient
    unread_for(actor)                           the number on the portal's Messages tab

A patient sees their own conversation; a parent or guardian acting for a minor sees the
conversation of their link (Thread.link), never the minor's own nor another guardian's (MSG5:
confidential within the relationship it belongs to). What the patient sees of the practice's
messages: those written in the portal, and the bodies behind the notices an SMS or e-mail
carried ("sign in to read it" points here); never the notices themselves, never a refused or
waiting message. Reading is one opening of the chart as the patient (`patient_request`,
`communications.messages`); the practice's messages shown unread get `read_at` (the receipt
staff see as "Read 10:42").
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.core.actors import PatientActor
from confide.core.errors import InvalidInput
from confide.core.purposes import Purpose
from confide.messaging.models import Attachment, Channel, Direction, Message, Status, Thread, Topic

SEEN_STATUSES = (Status.SENT, Status.DELIVERED, Status.SENDING, Status.QUEUED)


def thread_link(actor: PatientActor):
    """The conversation's link: None for the patient's own, the representative's link otherwise."""
    return actor.link_id if actor.representative else None


def _visible(thread_id):
    practice_side = Q(direction=Direction.OUTBOUND) & (
        Q(channel=Channel.PORTAL, status=Status.DELIVERED)
        | (Q(channel__in=[Channel.SMS, Channel.EMAIL], carried="notice", status__in=SEEN_STATUSES) & ~Q(topic=Topic.NOTIFICATION))
    )
    return Message.objects.filter(Q(direction=Direction.INBOUND) | practice_side, thread_id=thread_id)


@dataclass(frozen=True)
class MyLine:
    id: uuid.UUID
    mine: bool
    body: str
    at: datetime.datetime
    attachments: tuple


def _my_thread(actor: PatientActor) -> Thread | None:
    return Thread.objects.filter(practice_id=actor.practice_id, patient_id=actor.patient_id, link_id=thread_link(actor)).first()


def read_my_thread(actor: PatientActor, *, request=None) -> list[MyLine]:
    thread = _my_thread(actor)
    if thread is None:
        return []
    rows = list(_visible(thread.pk).order_by("created_at", "id"))
    files: dict = {}
    for a in Attachment.objects.filter(message__thread=thread).order_by("created_at"):
        files.setdefault(a.message_id, []).append(a)
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={policy.MESSAGES}, request=request):
        lines = [MyLine(id=m.pk, mine=m.direction == Direction.INBOUND, body=m.body or "", at=m.created_at, attachments=tuple(files.get(m.pk, ())))
                 for m in rows]  # fmt: skip
    unread = [m.pk for m in rows if m.direction == Direction.OUTBOUND and m.read_at is None]
    if unread:
        marked = Message.objects.filter(pk__in=unread, read_at__isnull=True).update(read_at=timezone.now())
        if marked:
            Thread.objects.filter(pk=thread.pk).update(unread_by_patient=Greatest(0, F("unread_by_patient") - marked))
    return lines


def unread_for(actor) -> int:
    if not isinstance(actor, PatientActor):
        return 0
    thread = _my_thread(actor)
    return thread.unread_by_patient if thread is not None else 0


def do_write(actor: PatientActor, *, body, upload=None, request=None) -> Message:
    """The patient's message in their conversation. A file is checked before anything is
    written (a refused file: nothing stored, the message not sent either)."""
    from confide.messaging.attachments import check_attachment, has_upload
    from confide.messaging.inbound import handle_inbound_text
    from confide.messaging.services import clean_body

    if not isinstance(actor, PatientActor):
        raise InvalidInput("Only a patient writes here.")
    text = clean_body(body, Channel.PORTAL)
    clean = check_attachment(upload) if has_upload(upload) else None
    try:
        # Filed, then the emergency rule (MSG5): a portal message asking for help gets the 911/988
        # reply in the same conversation at once and the thread is flagged urgent for staff.
        with transaction.atomic():
            outcome = handle_inbound_text(actor.practice_id, actor.patient_id, Channel.PORTAL, text, link_id=thread_link(actor),
                                          actor=actor, attachments=(clean,) if clean else (), request=request)  # fmt: skip
            return Message.objects.get(pk=outcome.message_id)
    finally:
        if clean is not None and clean.file is not upload:
            clean.file.close()
