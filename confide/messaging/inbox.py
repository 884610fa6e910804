"""The staff inbox: the list of conversations, one conversation read, assigned and answered.

    list_threads(actor, filter="all", page=1)          rows with the patient's name, newest first
    read_thread(actor, thread_id)                       the conversation, opened through the door
    do_assign(actor, thread_id, assignee=…, seen=…)     a conditional update, audited
    do_reply(actor, thread_id, channel=…, body=…)       send_message, and the gate's answer in words
    do_mark_handled(actor, thread_id, seen=…)           an emergency/crisis flag cleared, audited
    do_review_opt_out(actor, thread_id, keep=…)         a free-text "stop" confirmed or undone

Names on the list come through one listing door (`open_patient_list`, name only, one
`records:patients:listed` entry for the page): never a chart opening per row, never a UUID on the
screen. A conversation's bodies are decrypted only inside the chart door opened by the staff
member for treatment with `communications.messages` (each opening on record), and the inbound
messages shown unread are marked read by the same request with one `messaging:message:read`
entry naming them (ids only).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest
from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart, open_patient_list
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm, Role, role_has
from confide.core.purposes import Purpose
from confide.messaging.models import Attachment, Channel, Delivery, Direction, Message, Status, Thread, Topic
from confide.records.values import display_name

PAGE_SIZE = 30
FILTERS = {
    "all": "All",
    "unread": "Unread",
    "mine": "Assigned to me",
    "urgent": "Urgent",
    "failed": "Failed deliveries",
}
FAILED = (Status.FAILED, Status.UNDELIVERED)
# Every reason inbound.py flags a conversation with (flag_thread), in words for the list.
URGENT_REASONS = {"emergency": "Emergency words", "crisis": "Crisis words", "opt-out-review": "Asked to stop: confirm",
                  "reschedule": "Asked to reschedule"}  # reschedule: an R to a reminder (scheduling)
OPT_OUT_REVIEW = "opt-out-review"


def _require(actor, perm: Perm) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(perm):
        raise Forbidden(perm)


def _thread_id(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("thread") from None


def get_thread(actor: StaffActor, thread_id) -> Thread:
    """The practice's thread (another practice's, or none, is the same NotFound)."""
    _require(actor, Perm.MESSAGES_VIEW)
    found = Thread.objects.filter(pk=_thread_id(thread_id), practice_id=actor.practice_id).first()
    if found is None:
        raise NotFound("thread")
    return found


# --- the list ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThreadRow:
    id: uuid.UUID
    name: str
    unread: int
    urgent: bool
    urgent_reason: str
    failed: bool
    assigned_to: str
    mine: bool
    last_message_at: datetime.datetime | None
    representative: bool


@dataclass
class InboxPage:
    rows: list[ThreadRow]
    number: int
    num_pages: int
    count: int
    filter: str
    unread_total: int = 0
    counts: dict = field(default_factory=dict)


def _failed_exists():
    return Exists(Message.objects.filter(thread=OuterRef("pk"), direction=Direction.OUTBOUND, status__in=FAILED))


def _filtered(actor: StaffActor, which: str):
    threads = Thread.objects.filter(practice_id=actor.practice_id)
    if which == "unread":
        return threads.filter(unread_by_staff__gt=0)
    if which == "mine":
        return threads.filter(assigned_to_id=actor.user_id)
    if which == "urgent":
        return threads.filter(urgent=True)
    if which == "failed":
        return threads.filter(_failed_exists())
    return threads


def staff_names(practice_id) -> dict[int, str]:
    return {pk: name for pk, name, _active in get_user_model().objects.members_of(practice_id)}


def list_threads(actor: StaffActor, which: str = "all", page: int = 1, *, request=None) -> InboxPage:
    _require(actor, Perm.MESSAGES_VIEW)
    if which not in FILTERS:
        raise InvalidInput("Show all conversations, unread ones, yours, urgent ones or failed deliveries.")
    threads = _filtered(actor, which).annotate(has_failed=_failed_exists()).order_by("-last_message_at", "-created_at", "-id")
    paginator = Paginator(threads, PAGE_SIZE)
    current = paginator.get_page(page)
    found = list(current.object_list)
    names: dict = {}
    if found:
        with open_patient_list(actor, Purpose.OPERATIONS, [t.patient_id for t in found], categories={policy.NAME}, request=request) as listed:
            names = {p.pk: display_name(p.given_name, p.family_name, p.preferred_name) for p in listed}
    staff = staff_names(actor.practice_id)
    rows = [
        ThreadRow(
            id=t.pk, name=names.get(t.patient_id) or "A patient no longer listed", unread=t.unread_by_staff, urgent=t.urgent,
            urgent_reason=URGENT_REASONS.get(t.urgent_reason, "Urgent") if t.urgent else "", failed=t.has_failed,
            assigned_to=staff.get(t.assigned_to_id, "") if t.assigned_to_id else "", mine=t.assigned_to_id == actor.user_id,
            last_message_at=t.last_message_at, representative=t.link_id is not None,
        )  # fmt: skip
        for t in found
    ]
    return InboxPage(rows=rows, number=current.number, num_pages=paginator.num_pages, count=paginator.count, filter=which,
                     unread_total=unread_total(actor))  # fmt: skip


def unread_total(actor) -> int:
    """Conversations with unread messages from patients: the number in the staff navigation."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.MESSAGES_VIEW):
        return 0
    return Thread.objects.filter(practice_id=actor.practice_id, unread_by_staff__gt=0).count()


# --- one conversation --------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One message as the thread page shows it (its body decrypted inside the door)."""

    id: uuid.UUID
    inbound: bool
    channel: str
    channel_label: str
    topic: str
    body: str
    at: datetime.datetime
    author: str
    status: str
    status_label: str
    delivery: str  # "Sent 10:42", "Delivered 10:43", "Failed: the number cannot get texts", ""
    read_at: datetime.datetime | None
    refusal: str
    carried: str
    attachments: tuple = ()


@dataclass
class Conversation:
    thread: Thread
    name: str
    lines: list[Line]
    assigned_to: str
    default_channel: str
    marked_read: int = 0


def _delivery_words(message: Message, delivery: Delivery | None) -> str:
    local = timezone.localtime
    if message.status == Status.REFUSED:
        return f"Not sent: {message.refusal_reason}" if message.refusal_reason else "Not sent"
    if message.status == Status.DEFERRED and message.send_after:
        # The server's zone, named (the reply's own notice gave the patient's local hour).
        return f"Waiting: will be sent at {local(message.send_after):%-H:%M %Z} on {local(message.send_after):%b %-d}"
    if message.channel == Channel.PORTAL:
        return f"Read {local(message.read_at):%-H:%M}" if message.read_at else "In the portal, not read yet"
    if delivery is None:
        return Status(message.status).label
    if delivery.status in FAILED:
        reason = delivery.error_reason or "the provider gave no reason"
        when = f" {local(delivery.failed_at):%-H:%M}" if delivery.failed_at else ""
        return f"Failed{when}: {reason}"
    if delivery.status == Status.DELIVERED and delivery.delivered_at:
        return f"Delivered {local(delivery.delivered_at):%-H:%M}"
    if delivery.status == Status.SENT and delivery.sent_at:
        return f"Sent {local(delivery.sent_at):%-H:%M}"
    return Status(delivery.status).label


def read_thread(actor: StaffActor, thread_id, *, request=None) -> Conversation:
    """The conversation, bodies decrypted in one opening of the chart for treatment; the inbound
    messages not yet read are marked read by this actor (one audit entry naming them)."""
    thread = get_thread(actor, thread_id)
    messages = list(Message.objects.filter(thread=thread).select_related("delivery").order_by("created_at", "id"))
    attachments: dict = {}
    for a in Attachment.objects.filter(message__thread=thread).order_by("created_at"):
        attachments.setdefault(a.message_id, []).append(a)
    staff = staff_names(actor.practice_id)
    with open_chart(actor, thread.patient_id, Purpose.TREATMENT, categories={policy.NAME, policy.MESSAGES}, request=request) as chart:
        patient = chart.patient
        name = display_name(patient.given_name, patient.family_name, patient.preferred_name)
        lines = [
            Line(
                id=m.pk, inbound=m.direction == Direction.INBOUND, channel=m.channel, channel_label=Channel(m.channel).label,
                topic=m.topic, body=m.body or "", at=m.created_at,
                author=("The patient" if m.direction == Direction.INBOUND else staff.get(m.author_id, "Confide") if m.author_id else "Confide"),
                status=m.status, status_label=Status(m.status).label,
                delivery="" if m.direction == Direction.INBOUND else _delivery_words(m, getattr(m, "delivery", None)),
                read_at=m.read_at, refusal=m.refusal_reason, carried=m.carried, attachments=tuple(attachments.get(m.pk, ())),
            )  # fmt: skip
            for m in messages
        ]
    marked = _mark_read(actor, thread, [m.pk for m in messages if m.direction == Direction.INBOUND and m.read_at is None], request=request)
    last_inbound = next((m for m in reversed(messages) if m.direction == Direction.INBOUND), None)
    default_channel = last_inbound.channel if last_inbound is not None else Channel.PORTAL
    return Conversation(thread=thread, name=name, lines=lines, assigned_to=staff.get(thread.assigned_to_id, "") if thread.assigned_to_id else "",
                        default_channel=default_channel, marked_read=marked)  # fmt: skip


def _mark_read(actor: StaffActor, thread: Thread, message_ids: list, *, request=None) -> int:
    """Conditional updates: two staff opening the thread at once mark each message once, and
    the unread count never goes below zero."""
    if not message_ids:
        return 0
    now = timezone.now()
    newly = list(Message.objects.filter(pk__in=message_ids, read_at__isnull=True).values_list("pk", flat=True))
    marked = Message.objects.filter(pk__in=newly, read_at__isnull=True).update(read_at=now, read_by_id=actor.user_id)
    if marked:
        Thread.objects.filter(pk=thread.pk).update(unread_by_staff=Greatest(0, F("unread_by_staff") - marked))
        record(
            AuditEvent.MESSAGE_READ, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
            subject_id=thread.patient_id, resource_ids=newly, categories=[policy.MESSAGES], detail={"count": marked}, request=request,
        )  # fmt: skip
    return marked


# --- assignment --------------------------------------------------------------------------------
def assignable_staff(practice_id) -> list[tuple[int, str]]:
    """(user id, name) of the active members whose role works the inbox."""
    from confide.accounts.models import Membership

    rows = Membership.objects.filter(practice_id=practice_id, is_active=True).values_list("user_id", "user__display_name", "role")
    return sorted(((pk, name) for pk, name, role in rows if role_has(role, Perm.MESSAGES_VIEW)), key=lambda r: r[1].lower())


class AssignedMeanwhile(InvalidInput):
    """Someone else changed the assignment after the page was shown."""


def _user_id(value, *, actor: StaffActor) -> int | None:
    text = str(value or "").strip()
    if text in ("", "none"):
        return None
    if text == "me":
        return actor.user_id
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("Choose someone from the list.") from None


def do_assign(actor: StaffActor, thread_id, *, assignee, seen, request=None) -> Thread:
    """Assign the conversation (or leave it unassigned). `seen` is the assignment the page
    showed: the update applies only if it is still that one, so two people assigning at once
    never overwrite each other silently."""
    _require(actor, Perm.MESSAGES_SEND)
    thread = get_thread(actor, thread_id)
    new = _user_id(assignee, actor=actor)
    if new is not None and new not in {pk for pk, _ in assignable_staff(actor.practice_id)}:
        raise InvalidInput("Choose someone from the list: they work the inbox in this practice.")
    expected = _user_id(seen, actor=actor)
    if new == thread.assigned_to_id:
        return thread
    changed = Thread.objects.filter(pk=thread.pk, assigned_to_id=expected).update(assigned_to_id=new)
    if not changed:
        raise AssignedMeanwhile("Someone changed who this conversation is assigned to; here is how it stands now.")
    record(
        AuditEvent.THREAD_ASSIGNED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
        subject_id=thread.patient_id, resource_ids=[thread.pk], detail={"assigned_to": new}, request=request,
    )  # fmt: skip
    thread.assigned_to_id = new
    return thread


# --- urgent flags: the way out ------------------------------------------------------------------
class NotFlagged(InvalidInput):
    """The conversation has no flag of that kind (never had one, or someone cleared it meanwhile)."""


def do_mark_handled(actor: StaffActor, thread_id, *, seen="", request=None) -> Thread:
    """Clear an emergency or crisis flag once someone has dealt with it. `seen` is the reason the
    page showed: the update applies only while the flag is still that one, so a newer flag raised
    after the page was shown (or a second click) is never cleared unseen. A request to stop texts
    is not cleared here: it is answered by do_review_opt_out."""
    _require(actor, Perm.MESSAGES_SEND)
    thread = get_thread(actor, thread_id)
    reason = thread.urgent_reason if thread.urgent else ""
    if not reason or reason == OPT_OUT_REVIEW:
        raise NotFlagged("This conversation is not flagged as urgent any more: nothing was changed.")
    if seen and str(seen)[:32] != reason:
        raise NotFlagged("The flag on this conversation changed since the page was shown; here is how it stands now.")
    cleared = Thread.objects.filter(pk=thread.pk, urgent=True, urgent_reason=reason).update(urgent=False, urgent_reason="")
    if not cleared:
        raise NotFlagged("Someone marked this conversation as handled meanwhile: nothing more was changed.")
    record(
        AuditEvent.THREAD_URGENT_CLEARED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.TREATMENT.value,
        subject_id=thread.patient_id, resource_ids=[thread.pk], detail={"reason": reason}, request=request,
    )  # fmt: skip
    thread.urgent, thread.urgent_reason = False, ""
    return thread


def do_review_opt_out(actor: StaffActor, thread_id, *, keep, request=None) -> Thread:
    """Answer an opt-out-review flag through inbound.do_review_opt_out: keep the opt-out, or undo
    it (the number may get texts again; consent to texts is recorded again separately)."""
    from confide.messaging.inbound import do_review_opt_out as review

    _require(actor, Perm.MESSAGES_SEND)
    thread = get_thread(actor, thread_id)
    if thread.urgent_reason != OPT_OUT_REVIEW:
        raise NotFlagged("This conversation has no request to stop texts waiting for review: nothing was changed.")
    if keep not in (True, False):
        raise InvalidInput("Choose whether to keep the opt-out or let texts resume.")
    try:
        review(actor=actor, thread_id=thread.pk, keep=keep, request=request)
    except InvalidInput:
        raise NotFlagged("Someone answered this request to stop texts meanwhile: nothing more was changed.") from None
    thread.urgent, thread.urgent_reason = False, ""
    return thread


# --- replying ----------------------------------------------------------------------------------
REPLY_CHANNELS = (Channel.PORTAL, Channel.SMS, Channel.EMAIL)


@dataclass(frozen=True)
class ReplyOutcome:
    message: Message
    words: str  # what the page says happened, in plain words
    level: str  # "success" | "warning" | "error"


def do_reply(actor: StaffActor, thread_id, *, channel, body, request=None) -> ReplyOutcome:
    """Send a staff reply in the conversation through the gate; answer what happened in words."""
    from confide.consent.services import has_consent
    from confide.messaging.notices import notify_new_message
    from confide.messaging.services import parse_channel, send_message

    _require(actor, Perm.MESSAGES_SEND)
    thread = get_thread(actor, thread_id)
    checked = parse_channel(channel)
    message = send_message(actor, patient_id=thread.patient_id, channel=checked, topic=Topic.STAFF_REPLY, body=body, thread=thread, request=request)
    if message.status == Status.REFUSED:
        return ReplyOutcome(message, f"Not sent. {message.refusal_reason}", "error")
    if message.status == Status.DEFERRED:
        return ReplyOutcome(message, f"Not sent yet: it will be sent at {_their_time(actor, thread, message.send_after)}. {message.refusal_reason}".strip(), "warning")
    if checked == Channel.PORTAL:
        notices = notify_new_message(actor.practice_id, thread.patient_id, request=request)
        told = f" They will be told by {' and '.join(notices)}." if notices else " They will see it when they next sign in."
        return ReplyOutcome(message, f"Sent in the portal.{told}", "success")
    if not has_consent(actor.practice_id, thread.patient_id, Purpose.TREATMENT, channel=checked):
        how = "text" if checked == Channel.SMS else "e-mail"
        return ReplyOutcome(message, f"Queued. They have not asked for details by {how}, so they will get a notice to read it in the portal.", "success")
    return ReplyOutcome(message, f"Queued: the {checked.label.lower()} goes out now.", "success")


def _their_time(actor: StaffActor, thread: Thread, when: datetime.datetime | None) -> str:
    """'8:00 their time (Mon, Dec 7)': the deferral in the recipient's own zone."""
    if when is None:
        return "the next allowed hour"
    from confide.messaging.quiet import locale_of

    with open_chart(actor, thread.patient_id, Purpose.TREATMENT, categories={policy.PHONE, policy.ADDRESS}) as chart:
        address = chart.patient.address if isinstance(chart.patient.address, dict) else None
        zone = locale_of(address, chart.patient.phone or "").zone
    local = when.astimezone(zone)
    return f"{local:%-H:%M} their time ({local:%a, %b %-d})"


def assignee_choices(actor: StaffActor) -> list[tuple[int, str]]:
    return assignable_staff(actor.practice_id)


def roles_that_work_the_inbox() -> list[Role]:
    return [r for r in Role if role_has(r, Perm.MESSAGES_VIEW)]
