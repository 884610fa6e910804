"""MSG7 under parallel deliveries: Twilio retries, or a replayed capture, of one inbound text
(one MessageSid) arriving at once on several workers is processed exactly once — one receipt,
one message filed, one STOP confirmation — and every request is answered 200."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

SAME_SID = 8


def scenario_one_message_sid_at_once(params):
    from django.conf import settings
    from django.test import Client

    from confide.core.tenancy import tenant_context
    from confide.messaging.models import InboundReceipt, Message, Topic
    from tests.messaging.conftest import messaging_world
    from tests.messaging.inbound_helpers import BASE, TOKEN, give_number, inbound_params, post_hook

    settings.CONFIDE_TWILIO_AUTH_TOKEN = TOKEN
    settings.CONFIDE_TWILIO_WEBHOOK_BASE = BASE
    world = new_world("inbound-sid")
    mw = messaging_world(world)
    give_number(world.practice.id)
    texts = {"stop": inbound_params("STOP"), "text": inbound_params("Running late, sorry")}
    codes = {}
    for name, params in texts.items():
        outcomes = concurrently(SAME_SID, lambda i, p=params: post_hook(p, client=Client()).status_code)
        codes[name] = sorted(str(o.value) if o.ok else o.error for o in outcomes)
    with tenant_context(practice_id=world.practice.id):
        return {
            "codes": codes,
            "receipts": InboundReceipt.objects.count(),
            "filed": Message.objects.filter(topic=Topic.PATIENT_MESSAGE, patient_id=mw.patient.id).count(),
            "replies": Message.objects.filter(topic=Topic.KEYWORD_REPLY, patient_id=mw.patient.id).count(),
        }


def test_msg7_one_message_sid_delivered_eight_times_at_once_is_processed_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_message_sid_at_once)
    assert result["codes"] == {"stop": ["200"] * SAME_SID, "text": ["200"] * SAME_SID}, result["codes"]
    assert result["receipts"] == 2
    assert result["filed"] == 2  # the STOP (filed after it was honoured) and the text, once each
    assert result["replies"] == 1
