"""Delivery: one claim, the final gate, one provider call, one status write (run by `confide
db_worker`; arguments are ids only).

    deliver(message_id, practice_id) -> outcome     the work; `deliver_message` is the task

Exactly once, under retries and crashes (ARCHITECTURE rule 12):
1. *Claim* with a conditional update: queued/deferred and due → `sending` with a lease. Two
   workers given the same message: one update matches, the other does nothing.
2. A message found `sending` with its lease run out was claimed by a worker that died. Before
   anything is sent again the provider is asked for the message's idempotency key
   (`adapter.lookup`): found → recorded as sent, nothing sent; not found → sent now.
3. The gate runs again, finally (an opt-out since queueing stops it; the egress gate writes its
   entry), inside the chart door opened as the registered messaging job; that block commits.
4. The provider call happens outside any database transaction (its effect cannot be rolled back,
   so no transaction pretends it can); then the status write. A kill between the two is case 2.
5. Provider errors: retryable (5xx, 429, timeout) → queued again with backoff, up to
   MAX_ATTEMPTS; otherwise (4xx) → failed with the provider's code, visible in the inbox.
`sweep()` (every minute, and `confide messaging sweep`) re-queues what is due: deferred messages
whose hour has come and sends whose worker died.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from confide.access.door import MESSAGING_SEND_JOB, open_chart
from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.messaging import gate
from confide.messaging.adapters import ProviderError, SendResult, email_adapter, sms_adapter
from confide.messaging.models import Channel, Delivery, Kind, Message, Status

logger = logging.getLogger(__name__)

LEASE = datetime.timedelta(seconds=120)  # CONFIDE_MESSAGING_LEASE_SECONDS overrides (tests make it short)
MAX_ATTEMPTS = 5
BACKOFF = (30, 120, 600, 1800)  # seconds before attempts 2, 3, 4, 5


def notice_text(practice_name: str, channel: str) -> str:
    """What an SMS or e-mail carries when the patient has not asked for details by it (MSG4)."""
    return f"You have a new secure message from {practice_name}. Sign in to the patient portal to read it."


def _adapter(channel: str):
    return sms_adapter() if channel == Channel.SMS else email_adapter()


def lease() -> datetime.timedelta:
    seconds = getattr(settings, "CONFIDE_MESSAGING_LEASE_SECONDS", None)
    return datetime.timedelta(seconds=seconds) if seconds else LEASE


def _claim(message_id, now) -> tuple[bool, bool]:
    """(claimed, recovering): the conditional updates of step 1 and 2."""
    due = Q(send_after__isnull=True) | Q(send_after__lte=now)
    fresh = Message.objects.filter(due, pk=message_id, status__in=[Status.QUEUED, Status.DEFERRED]).update(
        status=Status.SENDING, lease_until=now + lease(), attempts=F("attempts") + 1
    )
    if fresh:
        return True, False
    stale = Message.objects.filter(pk=message_id, status=Status.SENDING, lease_until__lt=now).update(
        lease_until=now + lease(), attempts=F("attempts") + 1
    )
    return bool(stale), bool(stale)


def deliver(message_id, practice_id, *, now: datetime.datetime | None = None) -> str:
    """Deliver one message; answers what happened (sent, refused, deferred, retry, failed,
    not-due, taken, recovered)."""
    from confide.messaging.services import _record_outcome, categories_for, contact_of
    from confide.core.models import Practice

    practice_id = uuid.UUID(str(practice_id))
    now = now or timezone.now()
    with tenant_context(practice_id=practice_id):
        claimed, recovering = _claim(message_id, now)
        if not claimed:
            return "not-due" if Message.objects.filter(pk=message_id, status__in=[Status.QUEUED, Status.DEFERRED]).exists() else "taken"
        message = Message.objects.get(pk=message_id)
        adapter = _adapter(message.channel)
        job = MESSAGING_SEND_JOB.for_practice(practice_id)
        if recovering and getattr(adapter, "can_lookup", False):
            try:
                found = adapter.lookup(message.idempotency_key)
            except ProviderError as exc:
                # The provider cannot be asked now: sending could make a second text, so the
                # message stays claimed until its lease runs out and the sweep asks again.
                logger.warning("message %s: lookup failed (%s); left for the next sweep", message.pk, exc.code)
                return "lookup-failed"
            if found is not None:
                _mark_sent(message, adapter, found, carried=message.carried or "body", job=job, recovered=True)
                return "recovered"
        purpose = Purpose.MARKETING if message.kind == Kind.MARKETING else Purpose.OPERATIONS
        categories = categories_for(message.kind, message.channel)
        try:
            with open_chart(job, message.patient_id, purpose, categories=categories) as chart:
                contact = contact_of(chart.patient, categories)
                body = message.body
                outgoing = gate.Outgoing(
                    practice_id=practice_id, patient_id=message.patient_id, channel=message.channel, topic=message.topic,
                    kind=message.kind, body=body, to=contact.to(message.channel), address=contact.address,
                    subject_key=message.subject_key, message_id=message.pk, processor_id=getattr(adapter, "processor_id", ""), now=now,
                    by_staff=message.author_id is not None,
                )  # fmt: skip
                decision = gate.check(outgoing, final=True, actor=job)
                if decision.outcome == "refuse":
                    Message.objects.filter(pk=message.pk).update(status=Status.REFUSED, refusal_code=decision.code,
                                                                 refusal_reason=decision.reason[:300], lease_until=None)  # fmt: skip
                    _record_outcome(message, AuditEvent.MESSAGE_REFUSED, job, {"code": decision.code})
                    return "refused"
                if decision.outcome == "defer":
                    Message.objects.filter(pk=message.pk).update(status=Status.DEFERRED, send_after=decision.send_after, lease_until=None,
                                                                 refusal_code=decision.code, refusal_reason=decision.reason[:300])  # fmt: skip
                    _record_outcome(message, AuditEvent.MESSAGE_DEFERRED, job, {"code": decision.code, "until": decision.send_after.isoformat()})
                    message.send_after = decision.send_after
                    transaction.on_commit(lambda: _requeue(message), robust=True)
                    return "deferred"
                practice_name = Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "your practice"
                text = body if decision.carried == "body" else notice_text(practice_name, message.channel)
                Message.objects.filter(pk=message.pk).update(carried=decision.carried)
                Delivery.objects.update_or_create(
                    message=message, defaults={"practice_id": practice_id, "provider": adapter.name, "status": Status.SENDING},
                    create_defaults={"practice_id": practice_id, "provider": adapter.name, "status": Status.SENDING,
                                     "queued_at": message.created_at, "history": [[Status.QUEUED, message.created_at.isoformat()]]},
                )  # fmt: skip
        except AccessRefused as exc:
            # The door itself refused (marketing consent withdrawn since queueing, the record
            # closed): the final check, recorded as a refusal like the gate's own.
            code = "consent-marketing" if message.kind == Kind.MARKETING and exc.code == "consent_required" else f"door-{exc.code}"[:32]
            Message.objects.filter(pk=message.pk).update(status=Status.REFUSED, refusal_code=code, lease_until=None,
                                                         refusal_reason="The chart could not be opened for this message (consent or access).")  # fmt: skip
            _record_outcome(message, AuditEvent.MESSAGE_REFUSED, job, {"code": code})
            return "refused"

        # Outside the transaction: the provider call, then the status write (module docstring, 4).
        try:
            result = _call(adapter, message, contact.to(message.channel), text, practice_name, decision.carried)
        except ProviderError as exc:
            return _provider_failed(message, exc, job, now)
        _mark_sent(message, adapter, result, carried=decision.carried, job=job)
        return "sent"


def _call(adapter, message: Message, to: str, text: str, practice_name: str, carried: str = "body") -> SendResult:
    from confide.messaging.adapters import OutboundSMS

    if message.channel == Channel.SMS:
        # The status webhook at the same public address the signature check uses (webhook_views).
        base = (getattr(settings, "CONFIDE_TWILIO_WEBHOOK_BASE", "") or getattr(settings, "CONFIDE_BASE_URL", "")).rstrip("/")
        callback = f"{base}{reverse('messaging:hook-sms-status')}" if base else ""
        return adapter.send(OutboundSMS(
            practice_id=message.practice_id, message_id=message.pk, patient_id=message.patient_id, to=to, body=text,
            kind=message.kind, idempotency_key=message.idempotency_key, status_callback=callback,
        ))  # fmt: skip
    return adapter.send(compose_email(message, to=to, text=text, carried=carried, practice_name=practice_name))


def compose_email(message: Message, *, to: str, text: str, carried: str, practice_name: str):
    """The e-mail for a message (adapters/email.py), with its campaign's subject for marketing."""
    from confide.messaging.adapters.email import compose
    from confide.messaging.models import Campaign

    campaign = Campaign.objects.filter(pk=message.campaign_id).first() if message.campaign_id else None
    return compose(message, to=to, text=text, carried=carried, practice_name=practice_name, campaign=campaign)


def _mark_sent(message: Message, adapter, result: SendResult, *, carried: str, job, recovered: bool = False) -> None:
    from confide.messaging.services import _record_outcome

    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(status=Status.SENT, lease_until=None, carried=carried)
        delivery, _ = Delivery.objects.get_or_create(message=message, defaults={"practice_id": message.practice_id, "provider": adapter.name})
        delivery.provider_ref = result.provider_ref[:64]
        if delivery.status in (Status.QUEUED, Status.SENDING):
            delivery.status = Status.SENT
        delivery.sent_at = delivery.sent_at or now
        delivery.history = [*delivery.history, [Status.SENT, now.isoformat()]]
        delivery.save()
        _record_outcome(message, AuditEvent.MESSAGE_SENT, job,
                        {"carried": carried, "provider": adapter.name, **({"recovered": True} if recovered else {})})  # fmt: skip


def _provider_failed(message: Message, exc: ProviderError, job, now) -> str:
    from confide.messaging.services import _record_outcome

    attempts = Message.objects.filter(pk=message.pk).values_list("attempts", flat=True).first() or 1
    with transaction.atomic():
        if exc.retryable and attempts < MAX_ATTEMPTS:
            later = now + datetime.timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])
            Message.objects.filter(pk=message.pk, status=Status.SENDING).update(status=Status.QUEUED, send_after=later, lease_until=None)
            Delivery.objects.filter(message=message).update(error_code=exc.code, error_reason=exc.reason)
            message.send_after = later
            transaction.on_commit(lambda: _requeue(message), robust=True)
            logger.warning("message %s: provider error %s, retry %s at %s", message.pk, exc.code, attempts + 1, later.isoformat())
            return "retry"
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(status=Status.FAILED, lease_until=None,
                                                                           refusal_code=f"provider-{exc.code}"[:32],
                                                                           refusal_reason=exc.reason[:300])  # fmt: skip
        Delivery.objects.filter(message=message).update(status=Status.FAILED, error_code=exc.code, error_reason=exc.reason, failed_at=now)
        _record_outcome(message, AuditEvent.MESSAGE_FAILED, job, {"code": exc.code})
    logger.warning("message %s failed: provider error %s", message.pk, exc.code)
    return "failed"


def _requeue(message: Message) -> None:
    from confide.messaging.services import enqueue_delivery

    enqueue_delivery(message)


@task()
def deliver_message(message_id: str, practice_id: str) -> str:
    return deliver(message_id, practice_id)


def sweep(now: datetime.datetime | None = None) -> int:
    """Deliver what is due now in every practice: deferred messages whose hour has come, retries
    whose backoff ran out, and sends whose worker died (lease expired). Answers how many."""
    from confide.core.models import Practice

    now = now or timezone.now()
    done = 0
    for practice_id in Practice.objects.values_list("pk", flat=True):
        with tenant_context(practice_id=practice_id):
            due = Message.objects.filter(
                Q(status__in=[Status.QUEUED, Status.DEFERRED], send_after__lte=now) | Q(status=Status.SENDING, lease_until__lt=now)
            ).values_list("pk", flat=True)
            ids = list(due[:500])
        for message_id in ids:
            if deliver(message_id, practice_id, now=now) in ("sent", "recovered", "refused", "failed", "deferred", "retry"):
                done += 1
    return done


SWEEP_EVERY = datetime.timedelta(minutes=1)


@task()
def sweep_messages() -> int:
    """The minute's sweep, then the next one queued: a failing sweep still queues its successor."""
    try:
        return sweep()
    finally:
        schedule_sweep(timezone.now() + SWEEP_EVERY)


def schedule_sweep(when: datetime.datetime | None = None) -> bool:
    """Queue the next sweep on the worker (database backend only: the `immediate` one cannot
    defer; cron runs `confide messaging sweep` instead). Called without a time (`make run`,
    `confide messaging sweep --schedule`) while a sweep is already waiting, it starts no second
    chain. False when none could be queued."""
    if not sweep_messages.get_backend().supports_defer:
        return False
    if when is None and _sweep_waiting():
        return True
    sweep_messages.using(run_after=when or timezone.now() + SWEEP_EVERY).enqueue()
    return True


def _sweep_waiting() -> bool:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=sweep_messages.module_path, status=TaskResultStatus.READY).exists()
