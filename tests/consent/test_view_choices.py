"""TRK2, CON1: the cookie banner and the privacy choices page. Nothing analytics-related loads
before consent; the banner is a plain form; withdrawing is one click on the choices page, where
granting was; bad input is a clear 400 and writes nothing."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from confide.consent import texts
from confide.consent.evidence import text_sha256
from confide.consent.topics import Action
from tests.consent.conftest import GPC, counts, events

CHOICES = reverse("consent:choices", kwargs={"practice_slug": "a"})
NOTICE = reverse("policy:notice", kwargs={"practice_slug": "a"})


def _post(client, prompt="analytics", action=Action.GRANT, **extra):
    data = {"prompt": prompt, "action": action.value if isinstance(action, Action) else action, "text_sha256": texts.digest(prompt, action) if isinstance(action, Action) else ""}
    data.update(extra)
    return client.post(CHOICES, data)


def test_trk2_before_consent_the_page_shows_the_banner_and_loads_nothing_for_analytics(world):
    body = Client().get(NOTICE).content.decode()
    assert 'data-testid="cookie-banner"' in body
    assert "analytics.js" not in body and "/a/collect" not in body and "confide-analytics" not in body
    assert texts.PROMPTS["analytics"] in body
    # Plain forms, one per button, to the choices page, with the digest of what they show.
    forms = re.findall(r'<form method="post" action="([^"]+)" class="consent-button">(.*?)</form>', body, re.S)
    assert [action for action, _ in forms] == [CHOICES, CHOICES]
    assert [re.search(r'name="action" value="(\w+)"', f).group(1) for _, f in forms] == ["grant", "decline"]
    assert texts.digest("analytics", Action.GRANT) in forms[0][1] and "csrfmiddlewaretoken" in forms[0][1]


def test_trk2_allowing_records_the_choice_and_the_page_then_loads_the_first_party_script(world):
    client = Client()
    response = _post(client, next=NOTICE)
    assert response.status_code == 303 and response["Location"] == NOTICE
    [event] = events(world.a.practice)
    assert (event.topic, event.action, event.method, event.channel, event.subject_kind) == ("analytics_cookies", "grant", "form_button", "cookie", "visitor")
    assert event.text_sha256 == text_sha256(texts.shown("analytics", Action.GRANT))
    assert event.ip_prefix == "127.0.0.0/24"
    page = client.get(NOTICE)
    body = page.content.decode()
    assert '<script src="/static/confide/analytics.js" defer></script>' in body
    assert '<meta name="confide-analytics-route" content="policy:notice">' in body
    assert f'<meta name="confide-analytics-url" content="{reverse("consent:collect", kwargs={"practice_slug": "a"})}">' in body
    assert 'data-testid="cookie-banner"' not in body  # answered: not asked again
    assert "Saved: usage statistics is on." in body
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_trk2_no_thanks_is_remembered_and_nothing_loads(world):
    client = Client()
    _post(client, action=Action.DECLINE)
    body = client.get(NOTICE).content.decode()
    assert "analytics.js" not in body and 'data-testid="cookie-banner"' not in body
    assert [e.action for e in events(world.a.practice)] == ["decline"]


def test_con1_withdrawing_is_one_click_on_the_choices_page_where_granting_was(world):
    client = Client()
    page = client.get(CHOICES).content.decode()
    assert "Allow usage statistics" in page
    _post(client)
    page = client.get(CHOICES).content.decode()
    assert "Turn usage statistics off" in page and "On: visits to these pages are counted" in page
    withdrawn = _post(client, action=Action.WITHDRAW)
    assert withdrawn.status_code == 303 and withdrawn["Location"] == CHOICES
    assert "analytics.js" not in client.get(NOTICE).content.decode()
    assert [e.action for e in events(world.a.practice)] == ["grant", "withdraw"]


def test_the_choices_page_shows_the_signals_it_received(world):
    body = Client().get(CHOICES, headers=GPC).content.decode()
    assert "Global Privacy Control: <strong>on</strong>" in body and "Do Not Track: not sent." in body
    assert "Off: your browser sends a privacy signal" in body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prompt": "marketing", "action": "grant", "text_sha256": "x"}, "That choice is not offered on this page."),
        ({"prompt": "sale-share", "action": "grant", "text_sha256": texts.digest("sale-share", Action.GRANT)}, "That choice is not offered on this page."),
        ({"prompt": "analytics", "action": "sell", "text_sha256": "x"}, "That is not one of the buttons on this page."),
        ({"prompt": "analytics-gpc", "action": "withdraw", "text_sha256": "x"}, "That is not one of the buttons on this page."),
        ({"prompt": "analytics", "action": "grant", "text_sha256": "0" * 64}, "This page changed since you loaded it."),
        ({"prompt": "analytics", "action": "grant"}, "This page changed since you loaded it."),
        ({"prompt": "analytics", "action": "withdraw", "text_sha256": texts.digest("analytics", Action.WITHDRAW)}, "There is nothing to withdraw: usage statistics was never granted."),
        ({}, "That choice is not offered on this page."),
    ],
)
def test_bad_choices_are_a_clear_400_and_write_nothing(world, data, message):
    client = Client()
    before = counts(world.a.practice)
    response = client.post(CHOICES, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert counts(world.a.practice) == before
    assert "confide_visitor" not in response.cookies  # nothing recorded, so no visitor cookie either


@pytest.mark.parametrize("token", [None, "forged-token-0123456789abcdef0123456789abcdef"])
def test_a_choice_without_a_valid_csrf_token_is_refused_and_writes_nothing(world, token):
    client = Client(enforce_csrf_checks=True)
    client.get(CHOICES)  # the csrftoken cookie
    data = {"prompt": "analytics", "action": "grant", "text_sha256": texts.digest("analytics", Action.GRANT)}
    if token:
        data["csrfmiddlewaretoken"] = token
    response = client.post(CHOICES, data)
    assert response.status_code == 403
    assert counts(world.a.practice)["events"] == 0
    # Control: with the real token it goes through.
    data["csrfmiddlewaretoken"] = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.post(CHOICES, data).status_code == 303


def test_next_must_stay_on_this_practices_pages(world):
    client = Client()
    for bad in ("https://evil.example/", "//evil.example/p/a/", "/p/b/privacy/", "/signin/"):
        response = _post(client, next=bad)
        assert response["Location"] == CHOICES, bad


def test_beyond_the_new_visitor_cap_a_choice_is_refused_with_429_and_nothing_written(world, settings):
    settings.CONFIDE_CONSENT_NEW_VISITORS_PER_IP_HOUR = 1
    assert _post(Client(REMOTE_ADDR="192.0.2.7")).status_code == 303
    refused = _post(Client(REMOTE_ADDR="192.0.2.7"))
    assert refused.status_code == 429
    assert "Too many new visitors from your network this hour" in refused.content.decode()
    assert len(events(world.a.practice)) == 1


def test_a_practice_that_counts_nothing_asks_nothing(world, clock):
    from django.utils import timezone

    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.policy.services import do_publish_policy

    with tenant_context(practice_id=world.a.practice.id):
        do_publish_policy(
            actor=StaffActor.from_membership(world.a.memberships[Role.OWNER]),
            override_toml='[[processors]]\nid = "analytics"\nin_use = false\n',
            effective_at=timezone.now(), material=False, summary="We stop counting page visits.",
        )  # fmt: skip
    clock.shift(1)
    body = Client().get(NOTICE).content.decode()
    assert 'data-testid="cookie-banner"' not in body and "analytics.js" not in body
    assert "This practice does not count visits to its pages at all." in Client().get(CHOICES).content.decode()
