"""Helpers for the send-gate tests (tests/messaging/test_gate_*.py): another patient in the
messaging world, consent choices, what the console outbox and the e-mail outbox got, the audit
entries of a message."""

from __future__ import annotations

import dataclasses

from django.core import mail

from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.messaging.models import MESSAGES, Message, OutboxEntry
from confide.vault.allowance import allow
from tests.consent.helpers import by_phone
from tests.portal_world import create_patient

CA_ADDRESS = {"lines": ["1 Main St"], "city": "San Francisco", "state": "CA", "postal_code": "94105", "country": "US"}
FL_ADDRESS = {"lines": ["2 Ocean Dr"], "city": "Miami", "state": "FL", "postal_code": "33139", "country": "US"}
CANARY_BODY = "Canary-body-7Q3 your biopsy result is benign"


def with_patient(mw, *, consent=("sms_texts",), **fields):
    """The same practice, another patient (who granted `consent`)."""
    patient = create_patient(mw.pw, **({"phone": "+1 415 555 0142", "address": CA_ADDRESS} | fields))
    for topic in consent:
        by_phone(mw.pw, patient.id, topic)
    return dataclasses.replace(mw, patient=patient)


def grant(mw, topic):
    by_phone(mw.pw, mw.patient.id, topic)


def withdraw(mw, topic):
    by_phone(mw.pw, mw.patient.id, topic, action="withdraw")


def fresh(message) -> Message:
    with tenant_context(practice_id=message.practice_id):
        return Message.objects.get(pk=message.pk)


def outbox_bodies(mw) -> list[str]:
    """What the console SMS adapter 'sent' to the patient, oldest first (read inside an allowance)."""
    with tenant_context(practice_id=mw.practice_id), allow({MESSAGES}):
        return [entry.body for entry in OutboxEntry.objects.filter(patient_id=mw.patient.id).order_by("created_at")]


def outbox_count(message) -> int:
    with tenant_context(practice_id=message.practice_id):
        return OutboxEntry.objects.filter(idempotency_key=message.idempotency_key).count()


def mailed_bodies() -> list[str]:
    return [m.body for m in mail.outbox]


def entries(message, event: str | None = None) -> list[AuditEntry]:
    """The audit entries naming the message (queued, refused, deferred, sent…)."""
    with tenant_context(practice_id=message.practice_id):
        rows = [e for e in AuditEntry.objects.filter(practice_id=message.practice_id) if str(message.pk) in map(str, e.resource_ids)]
    return [e for e in rows if event is None or e.event == event]


def codes(message, event: str) -> list[str]:
    return [e.detail.get("code") for e in entries(message, event)]


# The SMS processor in use with a BAA (as tests/messaging/conftest.py), and the e-mail processor
# also declared to carry message bodies (the default declares it for contact details only).
DETAILS_BY_EMAIL = (
    '[[processors]]\nid = "sms"\nbaa_on_file = true\nin_use = true\n\n'
    '[[processors]]\nid = "email"\nbaa_on_file = true\n'
    'categories = ["contact.email", "identifiers.name", "scheduling.appointments", "communications.messages"]\n'
)
# The SMS processor declared but not in use; declared in use without a BAA.
SMS_NOT_IN_USE = '[[processors]]\nid = "sms"\nbaa_on_file = true\nin_use = false\n'
SMS_WITHOUT_BAA = '[[processors]]\nid = "sms"\nbaa_on_file = false\nin_use = true\n'


def world_declaring(pw, toml: str, *, consent=("sms_texts",), **fields):
    """A messaging world whose practice published `toml` as its processor declaration."""
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from tests.messaging.conftest import MessagingWorld, declare_processors

    declare_processors(pw, toml)
    patient = create_patient(pw, **({"phone": "+1 415 555 0142", "address": CA_ADDRESS} | fields))
    for topic in consent:
        by_phone(pw, patient.id, topic)
    return MessagingWorld(pw=pw, patient=patient, front_desk=StaffActor.from_membership(pw.memberships[Role.FRONT_DESK]))
