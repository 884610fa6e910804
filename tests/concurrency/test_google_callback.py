"""SCH2: Google's redirect back (state + code) replayed by five requests of the same session at
once: the single-use state is consumed by exactly one of them, one code exchange reaches Google,
one connection, one audit entry; the others are told the sign-in was already used."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario, signed_in_client

REQUESTS = 5


def scenario_google_callback_replayed(params):
    from urllib.parse import parse_qs, urlsplit

    import requests
    from django.conf import settings
    from django.test import Client, override_settings
    from django.urls import reverse

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import GoogleConnection
    from tests.scheduling.fake_google import CLIENT_ID, CLIENT_SECRET, FakeGoogle

    world = new_world("google")
    with FakeGoogle() as fake, override_settings(CONFIDE_GOOGLE_API_BASE=fake.base, CONFIDE_GOOGLE_CLIENT_ID=CLIENT_ID,
                                                 CONFIDE_GOOGLE_CLIENT_SECRET=CLIENT_SECRET):  # fmt: skip
        client = signed_in_client(world.user(Role.CLINICIAN), world.practice)
        started = client.post(reverse("scheduling:google-connect"))
        approved = requests.get(started["Location"], allow_redirects=False, timeout=5)
        back = urlsplit(approved.headers["Location"])
        query = {k: v[0] for k, v in parse_qs(back.query).items()}
        clients = []
        for _ in range(params["n"]):  # the same browser session, five requests at once
            other = Client()
            other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
            clients.append(other)
        outcomes = concurrently(params["n"], lambda i: clients[i].get(back.path, query).status_code)
        exchanges = len([r for r in fake.seen("/token") if r.form.get("grant_type") == "authorization_code"])
    with tenant_context(practice_id=world.practice.id):
        connections = GoogleConnection.objects.filter(status="connected").count()
        audited = AuditEntry.objects.filter(event=AuditEvent.GOOGLE_CONNECTED, practice_id=world.practice.id).count()
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "exchanges": exchanges,
        "connections": connections,
        "audited": audited,
    }


def test_sch2_google_callback_replayed_by_five_requests_connects_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_google_callback_replayed, n=REQUESTS)
    assert result["errors"] == []
    assert result["statuses"] == ["302"] + ["400"] * (REQUESTS - 1)
    assert result["exchanges"] == 1
    assert result["connections"] == 1
    assert result["audited"] == 1
