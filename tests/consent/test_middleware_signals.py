"""TRK3: Sec-GPC and DNT are honoured on the server on every public practice page: recorded once
per visitor per signal state, with a signed first-party cookie; a live GPC signal outranks an
older opt-in (the conflict is recorded and asked about once); a flood of cookie-less requests
cannot flood the ledger."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.consent import texts
from confide.consent.signals import VISITOR_COOKIE
from confide.consent.topics import Action
from confide.core.permissions import Role
from tests.consent.conftest import DNT, GPC, counts, events


def _notice(slug: str = "a") -> str:
    return reverse("policy:notice", kwargs={"practice_slug": slug})


def _choose(client: Client, prompt: str, action: Action, *, slug: str = "a", headers=None, back=None):
    data = {"prompt": prompt, "action": action.value, "text_sha256": texts.digest(prompt, action)}
    if back:
        data["next"] = back
    return client.post(reverse("consent:choices", kwargs={"practice_slug": slug}), data, headers=headers or {})


def test_trk3_gpc_records_an_opt_out_of_sale_and_of_analytics_once_per_visitor(world):
    client = Client()
    first = client.get(_notice(), headers=GPC)
    assert first.status_code == 200
    recorded = events(world.a.practice)
    assert sorted((e.topic, e.action, e.method, e.channel, e.conflict) for e in recorded) == [
        ("analytics_cookies", "decline", "gpc_header", "cookie", False),
        ("sale_share_opt_out", "grant", "gpc_header", "cookie", False),
    ]
    assert {e.subject_kind for e in recorded} == {"visitor"} and len({e.subject_id for e in recorded}) == 1
    assert [e.event for e in AuditEntry.objects.filter(event__startswith="consent:")] == ["consent:signal-recorded"] * 2
    # The same visitor, the same signal: nothing more, on any page of the practice.
    for path in (_notice(), reverse("consent:choices", kwargs={"practice_slug": "a"}), reverse("consent:do-not-sell", kwargs={"practice_slug": "a"})):
        assert client.get(path, headers=GPC).status_code == 200
    assert len(events(world.a.practice)) == 2
    assert b"confide/analytics.js" not in first.content and b"data-testid=\"cookie-banner\"" not in first.content


def test_trk3_the_visitor_cookie_is_signed_first_party_httponly_lax_and_for_this_practice_only(world):
    response = Client().get(_notice(), headers=GPC)
    cookie = response.cookies[VISITOR_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/p/a/"
    assert cookie["secure"] == ("" if not settings.SESSION_COOKIE_SECURE else True)
    assert cookie["max-age"] == 365 * 86400 and not cookie["domain"]
    [visitor] = {e.subject_id for e in events(world.a.practice)}
    assert cookie.value.startswith(f"{visitor}:")  # the id, and its signature
    assert {"Sec-GPC", "DNT", "Cookie"} <= {v.strip() for v in response["Vary"].split(",")}
    assert "private" in response["Cache-Control"]  # the page depends on this visitor's choices


def test_trk3_no_signal_no_cookie_no_record(world):
    response = Client().get(_notice())
    assert VISITOR_COOKIE not in response.cookies
    assert counts(world.a.practice)["events"] == 0


def test_trk3_dnt_records_an_opt_out_of_analytics_only(world):
    Client().get(_notice(), headers=DNT)
    assert [(e.topic, e.action, e.method) for e in events(world.a.practice)] == [("analytics_cookies", "decline", "dnt_header")]


def test_trk3_gpc_and_dnt_together_record_once_as_gpc(world):
    Client().get(_notice(), headers=GPC | DNT)
    assert sorted((e.topic, e.method) for e in events(world.a.practice)) == [("analytics_cookies", "gpc_header"), ("sale_share_opt_out", "gpc_header")]


def test_trk3_a_forged_or_foreign_visitor_cookie_is_ignored(world):
    client = Client()
    client.get(_notice(), headers=GPC)
    stolen = client.cookies[VISITOR_COOKIE].value
    other = Client()
    other.cookies[VISITOR_COOKIE] = stolen  # practice A's cookie presented to practice B's pages
    other.cookies[VISITOR_COOKIE]["path"] = "/p/b/"
    other.get(_notice("b"), headers=GPC)
    assert {e.subject_id for e in events(world.b.practice)}.isdisjoint({e.subject_id for e in events(world.a.practice)})
    forged = Client()
    forged.cookies[VISITOR_COOKIE] = "AAAAAAAAAAAAAAAAAAAAAA:forged-signature"
    assert forged.get(_notice(), headers=GPC).status_code == 200
    assert len({e.subject_id for e in events(world.a.practice)}) == 2  # a new visitor, not "AAAA…"


def test_trk3_a_live_gpc_signal_outranks_an_older_opt_in_records_the_conflict_and_asks_once(world):
    client = Client()
    _choose(client, "analytics", Action.GRANT)  # an explicit opt-in, before any signal
    allowed = client.get(_notice())
    assert b"confide/analytics.js" in allowed.content

    asked = client.get(_notice(), headers=GPC)
    assert b"confide/analytics.js" not in asked.content  # the signal wins at once
    conflict = [e for e in events(world.a.practice) if e.topic == "analytics_cookies"][-1]
    grant = [e for e in events(world.a.practice) if e.topic == "analytics_cookies"][0]
    assert (conflict.action, conflict.method, conflict.conflict, conflict.overrides_id) == ("withdraw", "gpc_header", True, grant.pk)
    body = asked.content.decode()
    assert 'data-testid="signal-question"' in body
    assert "Your browser asks us not to track your visits (Global Privacy Control)" in body
    assert "You earlier allowed usage statistics" in body and "Keep it off" in body and "Allow anyway" in body
    client.get(_notice(), headers=GPC)
    assert len([e for e in events(world.a.practice) if e.topic == "analytics_cookies"]) == 2  # recorded once

    # The visitor answers "Allow anyway": the explicit choice made after being asked stands.
    answered = _choose(client, "analytics-gpc", Action.GRANT, headers=GPC, back=_notice())
    assert answered.status_code == 303 and answered["Location"] == _notice()
    again = client.get(_notice(), headers=GPC)
    assert b"confide/analytics.js" in again.content and b'data-testid="signal-question"' not in again.content
    assert [e.action for e in events(world.a.practice) if e.topic == "analytics_cookies"] == ["grant", "withdraw", "grant"]


def test_trk3_keep_it_off_answers_the_question_and_stays_off(world):
    client = Client()
    _choose(client, "analytics", Action.GRANT)
    client.get(_notice(), headers=GPC)
    _choose(client, "analytics-gpc", Action.DECLINE, headers=GPC)
    page = client.get(_notice(), headers=GPC)
    assert b'data-testid="signal-question"' not in page.content and b"confide/analytics.js" not in page.content
    assert [e.action for e in events(world.a.practice) if e.topic == "analytics_cookies"] == ["grant", "withdraw", "decline"]


def test_trk3_a_recorded_signal_keeps_analytics_off_until_the_visitor_allows_them_again(world):
    """The signal's withdrawal is an event like any other: with the signal gone, the state is
    still off (the ledger says so), and on again once the visitor allows it again."""
    client = Client()
    _choose(client, "analytics", Action.GRANT)
    client.get(_notice(), headers=DNT)
    assert b"confide/analytics.js" not in client.get(_notice()).content  # withdrawn by the recorded signal
    _choose(client, "analytics", Action.GRANT)
    assert b"confide/analytics.js" in client.get(_notice()).content


def test_trk3_a_cookieless_flood_is_capped_per_address_and_still_honoured(world, settings):
    settings.CONFIDE_CONSENT_NEW_VISITORS_PER_IP_HOUR = 3
    for _ in range(10):
        response = Client(REMOTE_ADDR="192.0.2.50").get(_notice(), headers=GPC)
        assert response.status_code == 200 and b"confide/analytics.js" not in response.content
    assert len({e.subject_id for e in events(world.a.practice)}) == 3
    capped = Client(REMOTE_ADDR="192.0.2.50").get(_notice(), headers=GPC)
    assert VISITOR_COOKIE not in capped.cookies
    Client(REMOTE_ADDR="192.0.2.51").get(_notice(), headers=GPC)  # another address is not capped
    assert len({e.subject_id for e in events(world.a.practice)}) == 4


def test_trk3_the_cap_keeps_no_address_in_the_cache(world, settings):
    from django.core.cache import cache

    from pathlib import Path

    cache.clear()
    Client(REMOTE_ADDR="192.0.2.99").get(_notice(), headers=GPC)
    # The file cache (the default) keeps each entry in a file: the key and the value are in it.
    entries = [p.read_bytes() for p in Path(settings.CACHES["default"]["LOCATION"]).glob("*") if p.is_file()]
    assert entries and not any(b"192.0.2.99" in entry for entry in entries)


@pytest.mark.parametrize("header", ["0", "", "yes", "1, 1"])
def test_trk3_only_the_value_1_is_a_signal(world, header):
    Client().get(_notice(), headers={"Sec-GPC": header, "DNT": header})
    assert events(world.a.practice) == []


def test_trk3_signals_are_honoured_on_every_public_practice_page_and_only_there(world, signed_in):
    for name in ("policy:notice", "consent:choices", "consent:do-not-sell", "consent:limit-sensitive"):
        Client().get(reverse(name, kwargs={"practice_slug": "a"}), headers=GPC)
    assert len({e.subject_id for e in events(world.a.practice)}) == 4
    staff = signed_in(Role.OWNER)
    staff.get(reverse("core:dashboard"), headers=GPC)
    assert len(events(world.a.practice)) == 8
    Client().get(reverse("policy:notice", kwargs={"practice_slug": "no-such-practice"}), headers=GPC)
    Client().delete(_notice(), headers=GPC)  # a method the page does not answer records nothing
    assert len(events(world.a.practice)) == 8 and events(world.b.practice) == []
