"""The staff Outbox page: the console outbox by time, recipient (the name where the role sees
names), channel, kind and status in words; never the body or the number; 404 unless the console
adapter is configured; only for roles that configure messaging."""

from __future__ import annotations

import time_machine
from django.urls import reverse

from confide.core.permissions import Role
from tests.access.conftest import FULL
from tests.conftest import sign_in
from tests.messaging.conftest import deliver_now, local_time, send

BODY = "canary-outbox-page-body: your results are in"


def _sent(mw):
    from tests.consent.helpers import by_phone

    by_phone(mw.pw, mw.patient.id, "phi_by_sms")
    with time_machine.travel(local_time(11), tick=False):
        message = send(mw, body=BODY)
        assert deliver_now(message) == "sent"
    return message


def test_outbox_page_lists_the_text_by_name_and_status_never_the_body_MSG1(client, world, mw):
    _sent(mw)
    sign_in(client, world.a.user(Role.FRONT_DESK), world.a.practice)
    response = client.get(reverse("messaging:outbox"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="outbox-entry"' in html
    assert "Text message" in html and "Sent" in html and "About care and your account" in html
    assert f"{FULL['given_name']} {FULL['family_name']}" in html
    assert BODY not in html and "555" not in html


def test_outbox_page_is_404_when_twilio_is_configured(client, world, settings):
    settings.CONFIDE_SMS_ADAPTER = "twilio"
    sign_in(client, world.a.user(Role.OWNER), world.a.practice)
    assert client.get(reverse("messaging:outbox")).status_code == 404


def test_outbox_page_is_refused_to_a_role_that_does_not_configure_messaging(client, world):
    sign_in(client, world.a.user(Role.BILLING), world.a.practice)
    assert client.get(reverse("messaging:outbox")).status_code == 403


def test_an_empty_outbox_says_so(client, world):
    sign_in(client, world.a.user(Role.OWNER), world.a.practice)
    assert "The outbox is empty" in client.get(reverse("messaging:outbox")).content.decode()
