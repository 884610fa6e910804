"""Marketing campaigns (MSG2): written by staff, sent only to patients whose marketing consent
for the channel is granted when it is sent.

    create_campaign(actor, name=…, channel=…, subject=…, body=…) -> Campaign
    audience_size(practice_id, channel) -> int        the preview: consent granted now
    start_campaign(actor, campaign_id) -> Campaign    draft → sending (once), the task queued
    run_campaign(campaign_id, practice_id) -> int     the task's work: walk the audience in batches

The audience is never a stored list: it is read from the consent ledger's projection in batches
(patients with marketing_<channel> granted, by id) and each batch is intersected again with the
ledger's events (`patients_with_consent`) at that moment; each message then passes the send
gate as it is written and again, finally, just before the provider call (an unsubscribe between
the two refuses it). Written as the registered `messaging-send-job` for purpose marketing: the
chart door asks the ledger a third time.

Exactly once per patient: starting is a conditional update (`draft` → `sending`; a double click
or a second staff member matches nothing and queues nothing), and each patient's
`CampaignRecipient` row is inserted in the same transaction as their message under a unique
(campaign, patient) constraint — a re-run task (a worker died mid-batch) skips whoever already
has one and carries on where it stopped.
"""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from confide.access.door import MESSAGING_SEND_JOB
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.core.text import single_line
from confide.messaging.models import Campaign, CampaignRecipient, CampaignStatus, Channel, Status, Topic

logger = logging.getLogger(__name__)

BATCH = 200
CONSENT_TOPIC = {Channel.EMAIL: "marketing_email", Channel.SMS: "marketing_sms"}
CONTACT_CATEGORY = {Channel.EMAIL: "contact.email", Channel.SMS: "contact.phone"}


def _require(actor) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.MESSAGING_CONFIGURE):
        raise Forbidden("Campaigns are written and sent by staff who configure messaging.")


def _channel(value) -> Channel:
    if str(value) not in CONSENT_TOPIC:
        raise InvalidInput("A campaign goes by e-mail or by text message.")
    return Channel(str(value))


def create_campaign(actor, *, name, channel, body, subject: str = "", request=None) -> Campaign:
    from django.core.exceptions import ValidationError

    from confide.messaging.services import clean_body

    _require(actor)
    checked = _channel(channel)
    text = clean_body(body, checked)
    name, subject = str(name or "").strip(), str(subject or "").strip()
    if not name:
        raise InvalidInput("Give the campaign a name (staff see it; patients do not).")
    try:
        single_line(name)
        if subject:
            single_line(subject)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from None
    if len(name) > 120 or len(subject) > 120:
        raise InvalidInput("A name or subject is at most 120 characters.")
    campaign = Campaign.objects.create(practice_id=actor.practice_id, name=name, channel=checked, subject=subject if checked == Channel.EMAIL else "",
                                       body=text, created_by_id=actor.user_id)  # fmt: skip
    return campaign


def list_campaigns(actor, limit: int = 100) -> list[Campaign]:
    _require(actor)
    return list(Campaign.objects.filter(practice_id=actor.practice_id)[:limit])


def get_campaign(actor, campaign_id) -> Campaign:
    _require(actor)
    try:
        found = Campaign.objects.filter(practice_id=actor.practice_id, pk=uuid.UUID(str(campaign_id))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("campaign")
    return found


def _granted_ids(practice_id, channel: Channel):
    """Patients (ids as the ledger keeps them) whose projection says the channel's marketing
    consent is granted, in id order: the candidates a batch is read from."""
    from confide.consent.models import ConsentState

    return (ConsentState.objects.filter(practice_id=practice_id, subject_kind="patient", topic=CONSENT_TOPIC[channel], granted=True)
            .order_by("subject_id").values_list("subject_id", flat=True))  # fmt: skip


def _audience_batch(practice_id, channel: Channel, after: str, size: int = BATCH) -> tuple[list[str], str | None]:
    """(patients to send to, the cursor for the next batch or None at the end): candidates from
    the projection, active records only, intersected with the ledger's events now."""
    from confide.consent.services import patients_with_consent
    from confide.records.models import Patient

    candidates = list(_granted_ids(practice_id, channel).filter(subject_id__gt=after)[:size])
    if not candidates:
        return [], None
    active = {str(pk) for pk in Patient.objects.filter(pk__in=candidates, is_active=True).values_list("pk", flat=True)}
    consented = patients_with_consent(practice_id, sorted(active), Purpose.MARKETING, [CONTACT_CATEGORY[channel]])
    return [pid for pid in candidates if pid in consented], candidates[-1]


def audience_size(practice_id, channel) -> int:
    checked = _channel(channel)
    total, cursor = 0, ""
    with tenant_context(practice_id=practice_id):
        while cursor is not None:
            batch, cursor = _audience_batch(practice_id, checked, cursor, size=1000)
            total += len(batch)
    return total


def start_campaign(actor, campaign_id, *, request=None) -> tuple[Campaign, bool]:
    """(campaign, started): only the first of any number of clicks moves it out of draft and
    queues the sending task; the others answer started=False and change nothing."""
    campaign = get_campaign(actor, campaign_id)
    size = audience_size(actor.practice_id, campaign.channel)
    with transaction.atomic():
        started = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DRAFT).update(
            status=CampaignStatus.SENDING, started_at=timezone.now(), started_by_id=actor.user_id, audience_count=size
        )
        if started:
            record(AuditEvent.CAMPAIGN_STARTED, practice_id=actor.practice_id, actor=actor, purpose=Purpose.MARKETING.value,
                   resource_ids=[campaign.pk], detail={"channel": campaign.channel, "audience": size}, request=request)  # fmt: skip
            transaction.on_commit(lambda: send_campaign.enqueue(str(campaign.pk), str(actor.practice_id)), robust=True)
    campaign.refresh_from_db()
    return campaign, bool(started)


def run_campaign(campaign_id, practice_id) -> int:
    """Walk the audience and write one marketing message per patient who has none yet; answers
    how many were written in this run. Safe to run again (module docstring)."""
    from confide.messaging.services import send_message

    practice_id = uuid.UUID(str(practice_id))
    written = 0
    with tenant_context(practice_id=practice_id):
        campaign = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).first()
        if campaign is None:
            return 0
        job = MESSAGING_SEND_JOB.for_practice(practice_id)
        channel = Channel(campaign.channel)
        cursor: str | None = ""
        while cursor is not None:
            batch, cursor = _audience_batch(practice_id, channel, cursor)
            done = set(CampaignRecipient.objects.filter(campaign=campaign, patient_id__in=batch).values_list("patient_id", flat=True))
            for patient_id in batch:
                if uuid.UUID(patient_id) in done:
                    continue
                written += _send_one(campaign, job, patient_id, send_message)
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(status=CampaignStatus.SENT, finished_at=timezone.now())
    logger.info("campaign %s: %s messages written", campaign_id, written)
    return written


def _send_one(campaign: Campaign, job, patient_id: str, send_message) -> int:
    try:
        with transaction.atomic():
            recipient = CampaignRecipient.objects.create(practice_id=campaign.practice_id, campaign=campaign, patient_id=patient_id)
            message = send_message(job, patient_id=patient_id, channel=campaign.channel, topic=Topic.CAMPAIGN, body=campaign.body,
                                   campaign_id=campaign.pk)  # fmt: skip
            CampaignRecipient.objects.filter(pk=recipient.pk).update(message_id=message.pk, outcome=message.status)
            refused = message.status == Status.REFUSED
            Campaign.objects.filter(pk=campaign.pk).update(
                processed_count=F("processed_count") + 1,
                queued_count=F("queued_count") + (0 if refused else 1),
                skipped_count=F("skipped_count") + (1 if refused else 0),
            )
        return 0 if refused else 1
    except IntegrityError:
        return 0  # another run wrote this patient's message: nothing more
    except (InvalidInput, Forbidden, NotFound) as exc:
        # The door refused (consent withdrawn since the batch was read, the record closed): no
        # message, counted as skipped.
        logger.info("campaign %s: a patient skipped (%s)", campaign.pk, type(exc).__name__)
        Campaign.objects.filter(pk=campaign.pk).update(processed_count=F("processed_count") + 1, skipped_count=F("skipped_count") + 1)
        return 0


@task()
def send_campaign(campaign_id: str, practice_id: str) -> int:
    return run_campaign(campaign_id, practice_id)
