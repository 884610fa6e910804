"""`client_ip`: the one place the client's address is read — REMOTE_ADDR, or behind
CONFIDE_TRUSTED_PROXY_COUNT proxies the entry of X-Forwarded-For that the outermost trusted proxy
wrote — and everything that reads an address goes through it: the consultation limit, audit
entries, consent evidence, the lockout (ACC6, AUD1, TRK1)."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.http import client_ip
from confide.core.tenancy import tenant_context
from confide.records.models import IntakeSubmission
from tests.conftest import PASSWORD
from tests.records.consultations import form_data

PROXY = "10.0.0.5"


def _request(forwarded: str | None = None, remote: str = PROXY):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    assert settings.CONFIDE_TRUSTED_PROXY_COUNT == 0  # the default: nothing in front of gunicorn is trusted
    assert client_ip(_request("198.51.100.7", remote="203.0.113.9")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # what the client wrote itself is never believed
        (1, "6.6.6.6,,198.51.100.7", "198.51.100.7"),
        (2, "6.6.6.6, 198.51.100.7, 192.0.2.1", "198.51.100.7"),  # a CDN, then our proxy
        (1, "2001:db8::7", "2001:db8::7"),
        (1, "2001:DB8:0::7", "2001:db8::7"),  # one spelling per address, so one counter
        (2, "198.51.100.7", PROXY),  # fewer hops than trusted proxies: not through them, not believed
        (1, "", PROXY),
        (1, None, PROXY),
        (1, "not-an-address", PROXY),
        (1, "198.51.100.7:443", PROXY),  # proxies send bare addresses; anything else is not one
    ],
)
def test_behind_trusted_proxies_the_address_is_counted_from_the_right(settings, count, forwarded, expected):
    settings.CONFIDE_TRUSTED_PROXY_COUNT = count
    assert client_ip(_request(forwarded)) == expected


def test_a_missing_remote_addr_is_an_empty_address():
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]
    assert client_ip(request) == ""


# --- every reader goes through it ------------------------------------------------------------------
def _consult(world, forwarded: str):
    url = reverse("intake:consult", kwargs={"practice_slug": world.a.practice.slug})
    return Client().post(url, form_data(world.a.practice), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


def test_sec3_behind_the_proxy_each_visitor_has_a_consultation_limit_of_their_own(world, settings):
    settings.CONFIDE_TRUSTED_PROXY_COUNT = 1
    settings.CONFIDE_CONSULT_PER_HOUR = 1
    assert _consult(world, "198.51.100.7").status_code == 200
    assert _consult(world, "198.51.100.8").status_code == 200  # another visitor, the same proxy
    assert _consult(world, "6.6.6.6, 198.51.100.7").status_code == 429  # a forged entry changes nothing
    with tenant_context(practice_id=world.a.practice.id):
        assert IntakeSubmission.objects.count() == 2


def test_aud1_audit_entries_record_the_address_the_trusted_proxy_saw(world, settings):
    settings.CONFIDE_TRUSTED_PROXY_COUNT = 1
    failed = Client().post(reverse("accounts:login"), {"username": "nobody@example.test", "password": "wrong-password-1"},
                           REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9")  # fmt: skip
    assert failed.status_code == 200
    assert AuditEntry.objects.filter(event=AuditEvent.SIGNIN_FAILED).latest("id").ip_address == "198.51.100.9"


def test_trk1_a_visitors_consent_evidence_keeps_the_network_of_the_address_the_proxy_saw(world, settings):
    from confide.consent.models import ConsentEvent

    settings.CONFIDE_TRUSTED_PROXY_COUNT = 1
    assert _consult(world, "6.6.6.6, 198.51.100.7").status_code == 200
    with tenant_context(practice_id=world.a.practice.id):
        [event] = ConsentEvent.objects.filter(subject_kind="applicant")
    assert event.ip_prefix == "198.51.100.0/24"


def test_acc6_behind_the_proxy_the_lockout_is_per_visitor_not_per_proxy(world, settings):
    settings.CONFIDE_TRUSTED_PROXY_COUNT = 1
    email = "owner@a.example.test"

    def attempt(password, forwarded):
        return Client().post(reverse("accounts:login"), {"username": email, "password": password},
                             REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)  # fmt: skip

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("wrong-password-1", "6.6.6.6")
    assert attempt(PASSWORD, "6.6.6.6").status_code == 429  # the attacker is locked out ...
    assert attempt(PASSWORD, "198.51.100.7").status_code == 302  # ... the clinic behind the same proxy is not
