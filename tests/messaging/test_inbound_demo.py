"""`make run`: the demo practice has its texting number, and a text signed with the documented
demo token (Makefile) is accepted by the local webhook, as docs/operations.md ("Twilio webhooks") shows."""

from __future__ import annotations

from django.core.management import call_command

from confide.core.models import Practice
from confide.messaging.inbound import practice_for_number
from tests.messaging.inbound_helpers import inbound_params, post_hook, sign

DEMO_TOKEN = "demo-twilio-token-not-secret"


def test_the_demo_practice_answers_texts_signed_with_the_demo_token(db, settings):
    call_command("demo", quiet=True)
    demo = Practice.objects.get(slug="demo")
    assert practice_for_number("+15017250604") == demo.id
    settings.CONFIDE_TWILIO_AUTH_TOKEN = DEMO_TOKEN
    settings.CONFIDE_TWILIO_WEBHOOK_BASE = "https://confide.example.test"
    params = inbound_params("HELP", sender="+12125550187", to="+15017250604")
    assert post_hook(params, signature=sign("/hooks/sms/twilio", params, token=DEMO_TOKEN)).status_code == 200
    call_command("demo", quiet=True)  # a second run keeps the number
    assert practice_for_number("+15017250604") == demo.id


def test_the_makefile_documents_the_demo_token():
    from pathlib import Path

    assert f"CONFIDE_TWILIO_AUTH_TOKEN ?= {DEMO_TOKEN}" in (Path(__file__).resolve().parents[2] / "Makefile").read_text()
