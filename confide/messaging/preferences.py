"""Notification preferences (MSG6): for each kind of notification, the channels the patient
wants it by. The send gate reads them (gate._preference); consent still decides what may go
by text or e-mail at all (news and offers also need the marketing consent of the channel).

    get_preferences(practice_id, patient_id) -> {topic: {portal, sms, email}}
    set_preferences(actor, patient_id, {topic: {portal, sms, email}}) -> the same, as stored

Who may set them: the patient themself (a `PatientActor` for their own record, from the portal)
or staff of the patient's practice with `consent:patient:record` or `messaging:message:send`
(the front desk, at the patient's request). One audit entry per change, with topics and
channels (codes), nothing else. Each (patient, topic) row is written with `update_or_create`
under its unique constraint, all in one transaction: two saves at once leave one row per topic,
the later save's.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from confide.audit.chain import patient_audit_actor, record
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.messaging.gate import NOTIFICATION_DEFAULTS
from confide.messaging.models import Channel, NotificationPreference, NotificationTopic

CHANNELS = (Channel.PORTAL.value, Channel.SMS.value, Channel.EMAIL.value)
STAFF_PERMS = (Perm.CONSENT_RECORD, Perm.MESSAGES_SEND)


def defaults() -> dict[str, bool]:
    return {channel: bool(NOTIFICATION_DEFAULTS[Channel(channel)]) for channel in CHANNELS}


def get_preferences(practice_id, patient_id) -> dict[str, dict[str, bool]]:
    with tenant_context(practice_id=practice_id):
        rows = {row.topic: row for row in NotificationPreference.objects.filter(practice_id=practice_id, patient_id=patient_id)}
    out = {}
    for topic in NotificationTopic.values:
        row = rows.get(topic)
        out[topic] = {channel: getattr(row, channel) for channel in CHANNELS} if row is not None else defaults()
    return out


def _authorize(actor, patient_id: uuid.UUID) -> None:
    from confide.records.models import Patient

    if isinstance(actor, PatientActor):
        if actor.patient_id != patient_id:
            raise Forbidden("A patient sets the notifications of their own record.")
    elif isinstance(actor, StaffActor):
        if not any(actor.has(perm) for perm in STAFF_PERMS):
            raise Forbidden("Your role does not change a patient's notification settings.")
    else:
        raise Forbidden("Notification settings are changed by the patient or by staff.")
    with tenant_context(practice_id=actor.practice_id):
        if not Patient.objects.filter(pk=patient_id, practice_id=actor.practice_id, is_active=True).exists():
            raise NotFound("patient")


def _parse(choices) -> dict[str, dict[str, bool]]:
    if not isinstance(choices, dict) or not choices:
        raise InvalidInput("Choose the channels for at least one kind of notification.")
    parsed = {}
    for topic, channels in choices.items():
        if topic not in NotificationTopic.values:
            raise InvalidInput(f"{str(topic)[:30]!r} is not a kind of notification; the kinds are: {', '.join(NotificationTopic.values)}.")
        if not isinstance(channels, dict) or set(channels) - set(CHANNELS):
            raise InvalidInput("Choose among portal, sms and email.")
        if any(not isinstance(value, bool) for value in channels.values()):
            raise InvalidInput("Each channel is on or off.")
        parsed[topic] = {**defaults(), **channels}
    return parsed


def set_preferences(actor, patient_id, choices, *, request=None) -> dict[str, dict[str, bool]]:
    try:
        patient_uuid = uuid.UUID(str(patient_id))
    except ValueError:
        raise NotFound("patient") from None
    parsed = _parse(choices)
    _authorize(actor, patient_uuid)
    practice_id = actor.practice_id
    with tenant_context(practice_id=practice_id), transaction.atomic():
        current = get_preferences(practice_id, patient_uuid)
        parsed = {topic: channels for topic, channels in parsed.items() if current[topic] != channels}
        if not parsed:
            return current  # nothing changed: nothing written, no audit entry
        for topic, channels in parsed.items():
            NotificationPreference.objects.update_or_create(practice_id=practice_id, patient_id=patient_uuid, topic=topic, defaults=channels)
        audit_actor = patient_audit_actor(actor) if isinstance(actor, PatientActor) else actor
        detail = {topic: [c for c in CHANNELS if channels[c]] for topic, channels in parsed.items()}
        record(AuditEvent.PREFERENCES_CHANGED, practice_id=practice_id, actor=audit_actor, purpose=Purpose.OPERATIONS.value,
               subject_id=patient_uuid, detail=detail, request=request)  # fmt: skip
    return get_preferences(practice_id, patient_uuid)
