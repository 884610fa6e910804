"""Every refusal and deferral of the send gate is on record (messaging:message:refused /
:deferred with the gate's code), and no audit entry or log line carries the body, the number or
the address (tests/security/test_no_phi_in_logs.py's rule, for the gate)."""

from __future__ import annotations

import json
import logging

import time_machine
from django.core.serializers.json import DjangoJSONEncoder
from django.forms.models import model_to_dict
from django.utils import timezone

from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.messaging.addresses import phone_blind
from confide.messaging.models import PhoneOptOut, Status
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.gate_support import CANARY_BODY, FL_ADDRESS, SMS_NOT_IN_USE, entries, fresh, with_patient, withdraw, world_declaring

NEEDLES = (CANARY_BODY, "Canary-body-7Q3", "biopsy", "4111 1111 1111 1111", "+14155550142", "415 555 0142", "4155550142",
           "+13055550100", "Ocean Dr", "Marisol")  # fmt: skip


def _flat(entry: AuditEntry) -> str:
    return json.dumps(model_to_dict(entry), cls=DjangoJSONEncoder, ensure_ascii=False)


def test_every_refusal_and_deferral_is_audited_with_its_code_and_never_the_body_MSG2_MSG4(world, caplog):
    from tests.messaging.conftest import messaging_world

    caplog.set_level(logging.DEBUG)
    mw = messaging_world(world.a)
    outcomes = []
    # Made before the clock is frozen: a grant and its withdrawal at one frozen instant would tie.
    no_consent, withdrawn, stopped = with_patient(mw, consent=()), with_patient(mw), with_patient(mw)
    with time_machine.travel(local_time(11), tick=False):
        # Refused at compose: no consent to texts, a card number, a photo.
        outcomes.append(send(no_consent, body=CANARY_BODY))
        outcomes.append(send(mw, body=f"{CANARY_BODY} card 4111 1111 1111 1111"))
        outcomes.append(send(mw, body=CANARY_BODY, has_photo=True))
        # Refused at delivery: consent withdrawn after queueing; a STOP after queueing.
        late_withdrawal = send(withdrawn, body=CANARY_BODY)
        withdraw(withdrawn, "sms_texts")
        assert deliver_now(late_withdrawal) == "refused"
        outcomes.append(late_withdrawal)
        late_stop = send(stopped, body=CANARY_BODY)
        with tenant_context(practice_id=mw.practice_id):
            PhoneOptOut.objects.create(practice_id=mw.practice_id, phone_blind=phone_blind(mw.practice_id, "+1 415 555 0142"),
                                       source="keyword", changed_at=timezone.now())  # fmt: skip
        assert deliver_now(late_stop) == "refused"
        outcomes.append(late_stop)
    # Deferred: quiet hours in Florida.
    florida = with_patient(mw, phone="+1 305 555 0100", address=FL_ADDRESS)
    with time_machine.travel(local_time(20, 30, zone="America/New_York"), tick=False):
        outcomes.append(send(florida, body=CANARY_BODY))
    # Refused by the egress gate (another practice, its SMS processor not in use).
    b = world_declaring(world.b, SMS_NOT_IN_USE)
    with time_machine.travel(local_time(11), tick=False):
        egress = send(b, body=CANARY_BODY)
        assert deliver_now(egress) == "refused"
    outcomes.append(egress)

    expected = {"consent-sms", "content-payment", "content-photo", "opted-out", "quiet-hours", "egress"}
    seen = set()
    for message in outcomes:
        stored = fresh(message)
        event = "messaging:message:deferred" if stored.status == Status.DEFERRED else "messaging:message:refused"
        assert stored.status in (Status.REFUSED, Status.DEFERRED)
        recorded = [e.detail["code"] for e in entries(message, event)]
        assert recorded == [stored.refusal_code], (stored.refusal_code, recorded)
        seen.add(stored.refusal_code)
    assert expected <= seen, seen

    # No audit entry of either practice, of any event, holds the body, the number or the address.
    for practice_id in (world.a.practice.id, world.b.practice.id):
        with tenant_context(practice_id=practice_id):
            for entry in AuditEntry.objects.filter(practice_id=practice_id):
                text = _flat(entry)
                assert not [n for n in NEEDLES if n in text], (entry.event, text)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert not [n for n in NEEDLES[:4] if n in logged]
    # The refusal reasons staff read carry no body either.
    assert not [m for m in outcomes if CANARY_BODY in fresh(m).refusal_reason]
