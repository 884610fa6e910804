"""TRK2, AI3: the usage beacon counts a page view per practice, route and day, only for a
visitor who allowed it and sends no signal; it stores nothing about the visitor; anything but
the one-field form it expects is a 400; it is CSRF-checked like every other POST."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from confide.consent import analytics, texts
from confide.consent.models import UsageCount
from confide.consent.topics import Action
from confide.core.tenancy import tenant_context
from tests.consent.conftest import DNT, GPC

COLLECT = reverse("consent:collect", kwargs={"practice_slug": "a"})
CHOICES = reverse("consent:choices", kwargs={"practice_slug": "a"})
FORM = "application/x-www-form-urlencoded"


def _allowing_client(**kwargs) -> Client:
    client = Client(**kwargs)
    client.post(CHOICES, {"prompt": "analytics", "action": "grant", "text_sha256": texts.digest("analytics", Action.GRANT)})
    return client


def _counts(practice):
    with tenant_context(practice_id=practice.id):
        return list(UsageCount.objects.values_list("day", "route", "count"))


def test_trk2_a_beacon_from_a_consenting_visitor_counts_the_route_and_nothing_else(world):
    client = _allowing_client()
    for _ in range(2):
        assert client.post(COLLECT, "route=policy%3Anotice", content_type=FORM).status_code == 204
    assert client.post(COLLECT, "route=consent%3Achoices", content_type=FORM).status_code == 204
    today = timezone.now().date()
    assert sorted(_counts(world.a.practice)) == [(today, "consent:choices", 1), (today, "policy:notice", 2)]
    assert _counts(world.b.practice) == []
    columns = {f.name for f in UsageCount._meta.get_fields()}
    assert columns == {"id", "created_at", "updated_at", "practice", "day", "route", "count"}  # no visitor, IP or agent


@pytest.mark.parametrize("headers", [{}, GPC, DNT], ids=["no-consent", "gpc", "dnt"])
def test_trk2_without_consent_or_with_a_signal_nothing_is_counted(world, headers):
    client = Client() if not headers else _allowing_client()
    response = client.post(COLLECT, "route=policy%3Anotice", content_type=FORM, headers=headers)
    assert response.status_code == 403
    assert response.content.decode() == "usage statistics are not allowed for this visitor\n"
    assert _counts(world.a.practice) == []


@pytest.mark.parametrize(
    ("body", "content_type", "path", "message"),
    [
        ("route=%2Fp%2Fa%2Fprivacy%2F", FORM, COLLECT, "names a public page of the practice by its route name"),
        ("route=core%3Adashboard", FORM, COLLECT, "names a public page"),
        ("route=policy%3Anotice&visitor=abc", FORM, COLLECT, "exactly one field, route, and nothing else"),
        ("route=policy%3Anotice&route=policy%3Anotice", FORM, COLLECT, "exactly one field"),
        ("", FORM, COLLECT, "A usage beacon "),  # (an empty body arrives without its content type)
        ('{"route": "policy:notice"}', "application/json", COLLECT, "is a form post"),
        ("route=policy%3Anotice", FORM, COLLECT + "?patient=123", "carries no query string"),
        ("route=" + "x" * 5000, FORM, COLLECT, "names a public page"),
    ],
)
def test_a_malformed_beacon_is_a_400_and_counts_nothing(world, body, content_type, path, message):
    client = _allowing_client()
    response = client.post(path, body, content_type=content_type)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _counts(world.a.practice) == []


@pytest.mark.parametrize("token", [None, "forged-token-0123456789abcdef0123456789abcdef"])
def test_a_beacon_without_the_pages_csrf_token_is_refused(world, token):
    client = Client(enforce_csrf_checks=True)
    client.get(CHOICES)
    data = {"prompt": "analytics", "action": "grant", "text_sha256": texts.digest("analytics", Action.GRANT),
            "csrfmiddlewaretoken": client.cookies[settings.CSRF_COOKIE_NAME].value}  # fmt: skip
    assert client.post(CHOICES, data).status_code == 303
    headers = {"X-CSRFToken": token} if token else {}
    assert client.post(COLLECT, "route=policy%3Anotice", content_type=FORM, headers=headers).status_code == 403
    assert _counts(world.a.practice) == []
    # Control: the token from the page's <meta> tag, as the script sends it.
    page = client.get(reverse("policy:notice", kwargs={"practice_slug": "a"})).content.decode()
    meta = page.split('<meta name="confide-csrf-token" content="', 1)[1].split('"', 1)[0]
    assert client.post(COLLECT, "route=policy%3Anotice", content_type=FORM, headers={"X-CSRFToken": meta}).status_code == 204


def test_the_beacon_answers_post_only(world):
    client = _allowing_client()
    assert client.get(COLLECT).status_code == 405
    assert client.put(COLLECT, "route=policy%3Anotice", content_type=FORM).status_code == 405
    assert Client().post(reverse("consent:collect", kwargs={"practice_slug": "no-such"}), "route=policy%3Anotice", content_type=FORM).status_code == 404


def test_the_countable_routes_are_the_public_practice_pages():
    assert analytics.countable_routes() == {
        "policy:notice", "policy:notice-version", "consent:choices", "consent:do-not-sell", "consent:limit-sensitive",
        # directory part: the practice website's pages
        "directory:home", "directory:team", "directory:practitioner", "directory:services", "directory:locations",
    }  # fmt: skip


def test_trk2_the_declaration_must_allow_first_party_analytics():
    from confide.policy.loader import load_default

    default = load_default()
    assert analytics.analytics_declared(default)
    stopped = default.model_copy(update={"processors": [p.model_copy(update={"in_use": False}) if p.id == "analytics" else p for p in default.processors]})
    assert not analytics.analytics_declared(stopped)
    outsourced = default.model_copy(update={"processors": [p.model_copy(update={"role": "service_provider"}) if p.id == "analytics" else p for p in default.processors]})
    assert not analytics.analytics_declared(outsourced)


def test_the_consultation_page_loads_no_statistics_even_with_consent(world):
    from django.test import Client
    from django.urls import reverse

    from tests.consent.test_view_choices import NOTICE, _post

    client = Client()
    _post(client, next=NOTICE)  # "Allow usage statistics"
    assert "analytics.js" in client.get(NOTICE).content.decode()
    consult = client.get(reverse("intake:consult", kwargs={"practice_slug": "a"})).content.decode()
    assert "analytics.js" not in consult and "confide-analytics" not in consult
