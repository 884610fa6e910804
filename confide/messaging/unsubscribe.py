"""One-click unsubscribe from marketing e-mail (RFC 8058; MSG3, RET3).

    unsubscribe_url(practice_id, patient_id, address) -> str   the link a marketing e-mail carries
    read_token(token) -> Unsubscription                         InvalidInput when forged, expired, malformed
    do_unsubscribe(token, request=None) -> Unsubscription       the POST's work; idempotent

The token is signed (django.core.signing, its own salt, SECRET_KEY) and carries the practice,
the patient's UUID, the channel and the blind index of the address the e-mail went to — ids and
a keyed hash, nothing readable about the person. It stays valid for TOKEN_DAYS (CAN-SPAM asks
for at least 30 days after sending).

Only a POST unsubscribes (the mailbox provider's one-click `List-Unsubscribe=One-Click`, or the
confirmation page's button); a GET shows the page (link scanners fetch links). Unsubscribing,
in one transaction:
1. the ledger: marketing_email withdrawn, method `unsubscribe_link`, channel email, as the
   patient themself (nothing to withdraw: already done — a second POST changes nothing);
2. `EmailOptOut` for the address (source `link`), so the gate refuses marketing to that address
   whoever's chart it is on, and the audit entry `messaging:opt-out:changed`;
3. RET3, the person's marketing data removed: their campaign recipient rows (which campaigns
   were sent to them) and the marketing e-mails already finished (sent, delivered, failed,
   refused) with their delivery rows. What remains is the audit log (ids only) and the ledger
   event (the proof of the unsubscribe). A marketing e-mail still queued is left to the send
   gate, which refuses it at its final check (consent withdrawn, address opted out): it is
   never sent, and its refusal is on record.
Takes effect before the next send: the final gate reads the ledger and the opt-out when it runs.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from confide.audit.chain import patient_audit_actor, record
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor
from confide.core.errors import InvalidInput, NotFound
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context

logger = logging.getLogger(__name__)

SALT = "confide.messaging.unsubscribe"
TOKEN_DAYS = 365
SHOWN_TEXT = "Unsubscribe from news and offers by e-mail. Messages about your care still reach you."
BAD_LINK = "This unsubscribe link is not valid. Use the link in the most recent e-mail, or contact the practice."


@dataclass(frozen=True)
class Unsubscription:
    practice_id: uuid.UUID
    patient_id: uuid.UUID
    channel: str
    email_blind: str


def make_token(practice_id, patient_id, address: str, channel: str = "email") -> str:
    from confide.messaging.addresses import email_blind

    with tenant_context(practice_id=uuid.UUID(str(practice_id))):
        blind = email_blind(practice_id, address)
    payload = {"p": str(practice_id), "s": str(patient_id), "c": channel, "b": blind}
    return signing.dumps(payload, salt=SALT, compress=True)


def unsubscribe_url(practice_id, patient_id, address: str) -> str:
    token = make_token(practice_id, patient_id, address)
    return f"{(settings.CONFIDE_BASE_URL or '').rstrip('/')}{reverse('messaging:unsubscribe', kwargs={'token': token})}"


def read_token(token) -> Unsubscription:
    try:
        data = signing.loads(str(token)[:1000], salt=SALT, max_age=datetime.timedelta(days=TOKEN_DAYS))
        found = Unsubscription(uuid.UUID(data["p"]), uuid.UUID(data["s"]), str(data["c"]), str(data["b"])[:32])
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise InvalidInput(BAD_LINK) from None
    if found.channel != "email" or not found.email_blind:
        raise InvalidInput(BAD_LINK)
    return found


def practice_name(practice_id) -> str:
    from confide.core.models import Practice

    return Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or ""


def do_unsubscribe(token, *, request=None) -> Unsubscription:
    """Unsubscribe the token's patient and address from marketing e-mail (module docstring)."""
    from confide.core.models import Practice

    found = read_token(token)
    if not Practice.objects.filter(pk=found.practice_id).exists():
        raise InvalidInput(BAD_LINK)
    with tenant_context(practice_id=found.practice_id), transaction.atomic():
        _withdraw_consent(found, request)
        _opt_out(found, request)
        removed = remove_marketing_data(found.practice_id, found.patient_id)
    logger.info("unsubscribe link used: patient %s, %s marketing rows removed", found.patient_id, removed)
    return found


def _withdraw_consent(found: Unsubscription, request) -> None:
    from confide.access.consent import do_patient_choice
    from confide.consent.services import Subject, state
    from confide.consent.topics import Topic

    subject = Subject.patient(found.practice_id, found.patient_id)
    if not state(subject, Topic.MARKETING_EMAIL).granted:
        return
    actor = PatientActor(practice_id=found.practice_id, patient_id=found.patient_id)
    try:
        # No request: the evidence of a browser would be the mailbox provider's, not the patient's.
        do_patient_choice(action="withdraw", actor=actor, subject=subject, topic=Topic.MARKETING_EMAIL, channel="email",
                          method="unsubscribe_link", shown_text=SHOWN_TEXT)  # fmt: skip
    except InvalidInput:
        pass  # withdrawn meanwhile by another request: the state wanted
    except NotFound:
        pass  # the record is closed or erased: the address's opt-out below still holds


def _opt_out(found: Unsubscription, request) -> None:
    from confide.messaging.models import Channel, EmailOptOut, OptOutSource

    now = timezone.now()
    # Two POSTs at once: one creates the row (the other's create meets the unique constraint and
    # reads it), and a conditional update turns an earlier opt-in back into an opt-out; only the
    # request that changed something writes the audit entry.
    row, created = EmailOptOut.objects.get_or_create(practice_id=found.practice_id, email_blind=found.email_blind,
                                                     defaults={"source": OptOutSource.UNSUBSCRIBE_LINK, "changed_at": now})  # fmt: skip
    changed = created or EmailOptOut.objects.filter(pk=row.pk, opted_out=False).update(
        opted_out=True, source=OptOutSource.UNSUBSCRIBE_LINK, changed_at=now
    )
    if not changed:
        return
    actor = patient_audit_actor(PatientActor(practice_id=found.practice_id, patient_id=found.patient_id))
    record(AuditEvent.OPT_OUT_CHANGED, practice_id=found.practice_id, actor=actor, purpose=Purpose.OPERATIONS.value,
           subject_id=found.patient_id, detail={"channel": Channel.EMAIL.value, "opted_out": True, "source": OptOutSource.UNSUBSCRIBE_LINK.value},
           request=None)  # fmt: skip


def remove_marketing_data(practice_id, patient_id) -> int:
    """RET3: the patient's marketing e-mail data, removed (module docstring, step 3); answers
    how many rows went. Queued messages stay for the gate to refuse."""
    from confide.messaging.models import CampaignRecipient, Channel, Delivery, Kind, Message, OutboxEntry, Status

    finished_statuses = [Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.REFUSED]

    with tenant_context(practice_id=practice_id):
        recipients, _ = CampaignRecipient.objects.filter(patient_id=patient_id, campaign__channel=Channel.EMAIL).delete()
        finished = Message.objects.filter(patient_id=patient_id, kind=Kind.MARKETING, channel=Channel.EMAIL, status__in=finished_statuses)
        ids = list(finished.values_list("pk", flat=True))
        Delivery.objects.filter(message_id__in=ids).delete()
        OutboxEntry.objects.filter(message_id__in=ids).delete()
        messages, _ = Message.objects.filter(pk__in=ids).delete()
    return recipients + messages
