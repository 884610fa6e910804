"""Google Calendar read-only (issue 16 item 4; SCH2, SCH3), through the views, against a
Google-shaped server on loopback (tests/scheduling/fake_google.py) that records every request."""

from __future__ import annotations

import base64
import datetime
import hashlib
import pickle
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling import google
from confide.scheduling.models import GoogleConnection, GoogleOAuthState
from tests.scheduling.fake_google import CLIENT_ID, CLIENT_SECRET, READONLY, FakeGoogle

CANARY_TITLE = "canary-google-event-title-qx7"
PAGE = "/calendar/google/"


@pytest.fixture
def fake(settings):
    with FakeGoogle() as server:
        settings.CONFIDE_GOOGLE_API_BASE = server.base
        settings.CONFIDE_GOOGLE_CLIENT_ID = CLIENT_ID
        settings.CONFIDE_GOOGLE_CLIENT_SECRET = CLIENT_SECRET
        settings.CONFIDE_GOOGLE_TIMEOUT_SECONDS = 1
        google.forget_all()
        yield server
        google.forget_all()


def this_week_event(fake, title: str, **extra) -> dict:
    """An event today at 10:00-11:00 UTC (inside the page's "this week")."""
    day = datetime.datetime.now(datetime.UTC).date()
    return fake.event(f"{day}T10:00:00Z", f"{day}T11:00:00Z", title, **extra)


def authorize(client, fake) -> tuple[str, dict]:
    """POST "Connect", follow to the fake's consent screen (auto-approved); Google's redirect back."""
    response = client.post(reverse("scheduling:google-connect"))
    assert response.status_code == 302, response.content[:300]
    back = requests.get(response["Location"], allow_redirects=False, timeout=5)
    location = urlsplit(back.headers["Location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.query).items()}


def connect(client, fake):
    path, query = authorize(client, fake)
    return client.get(path, query)


def clinician(world):
    return world.a.memberships[Role.CLINICIAN]


def the_connection(world):
    with tenant_context(practice_id=world.a.practice.id):
        return GoogleConnection.objects.get(membership=clinician(world))


def events(world, event):
    with tenant_context(practice_id=world.a.practice.id):
        return list(AuditEntry.objects.filter(event=event).order_by("at"))


def test_sch2_connect_asks_google_for_read_only_with_pkce_and_seals_the_tokens(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    response = connect(client, fake)
    assert response.status_code == 302 and response["Location"] == PAGE

    [auth] = fake.seen("/o/oauth2/v2/auth")
    assert auth.query["scope"] == READONLY  # exactly the one read-only scope
    assert auth.query["response_type"] == "code"
    assert auth.query["client_id"] == CLIENT_ID
    assert auth.query["access_type"] == "offline"
    assert auth.query["code_challenge_method"] == "S256"
    assert len(auth.query["state"]) >= 32
    assert auth.query["include_granted_scopes"] == "false"
    assert auth.query["redirect_uri"].endswith("/calendar/google/callback/")

    [token] = fake.seen("/token")
    assert token.form["grant_type"] == "authorization_code"
    assert token.form["redirect_uri"] == auth.query["redirect_uri"]
    verifier = token.form["code_verifier"]
    assert 43 <= len(verifier) <= 128
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == auth.query["code_challenge"]

    connection = the_connection(world)
    assert connection.status == "connected" and connection.scopes == READONLY
    [access] = fake.access_tokens
    [refresh] = fake.refresh_tokens
    assert access not in connection.sealed_tokens and refresh not in connection.sealed_tokens
    assert google._open_tokens(connection)["refresh_token"] == refresh
    [entry] = events(world, AuditEvent.GOOGLE_CONNECTED)
    assert entry.detail["membership_id"] == str(clinician(world).id)
    assert access not in str(entry.detail) and refresh not in str(entry.detail)


def test_a_replayed_or_foreign_state_is_refused(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    path, query = authorize(client, fake)
    assert client.get(path, query).status_code == 302
    replay = client.get(path, query)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.content.decode()
    assert len(fake.seen("/token")) == 1  # the replay never reached Google

    # A state made for another session (a link sent to someone) is refused too.
    from django.test import Client

    from tests.conftest import sign_in

    _, query = authorize(client, fake)
    other = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    assert other.get(path, query).status_code == 400
    assert len(fake.seen("/token")) == 1


def test_sch2_a_broader_scope_is_refused_and_given_back_to_google(world, signed_in, fake):
    fake.granted_scope = f"{READONLY} https://www.googleapis.com/auth/calendar"
    client = signed_in(Role.CLINICIAN)
    response = connect(client, fake)
    assert response.status_code == 400
    assert "refused the connection" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert not GoogleConnection.objects.exists()
    [revoke] = fake.seen("/revoke")
    assert revoke.form["token"].startswith("1//fake-refresh-")
    [entry] = events(world, AuditEvent.GOOGLE_SCOPE_REFUSED)
    assert entry.outcome == "refused" and "https://www.googleapis.com/auth/calendar" in entry.detail["granted"]


def test_sch2_a_missing_scope_is_refused(world, signed_in, fake):
    fake.granted_scope = "https://www.googleapis.com/auth/calendar.freebusy"
    assert connect(signed_in(Role.CLINICIAN), fake).status_code == 400
    with tenant_context(practice_id=world.a.practice.id):
        assert not GoogleConnection.objects.exists()
    assert len(fake.seen("/revoke")) == 1


def test_busy_blocks_show_titles_to_the_owner_only_and_skip_free_and_cancelled(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    fake.events = [
        this_week_event(fake, "Dentist"),
        this_week_event(fake, "Focus time (free)", transparency="transparent"),
        this_week_event(fake, "Called off", status="cancelled"),
    ]
    page = client.get(PAGE).content.decode()
    assert "Dentist" in page and "Focus time" not in page and "Called off" not in page

    [listing] = fake.seen("/calendar/v3/calendars/primary/events")
    assert listing.headers["authorization"] == f"Bearer {next(iter(fake.access_tokens))}"
    assert listing.query["singleEvents"] == "true" and listing.query["orderBy"] == "startTime"
    assert listing.query["fields"] == "items(start,end,summary,transparency,status),nextPageToken"
    assert listing.query["timeMin"] and listing.query["timeMax"]

    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=3)
    owner = world.a.user(Role.CLINICIAN).pk
    with tenant_context(practice_id=world.a.practice.id):
        mine = google.busy_blocks(clinician(world).id, start, end, viewer_id=owner)
        theirs = google.busy_blocks(clinician(world).id, start, end, viewer_id=world.a.user(Role.FRONT_DESK).pk)
        anyone = google.busy_blocks(clinician(world).id, start, end)
    assert [b.title for b in mine] == ["Dentist"]
    assert [b.title for b in theirs] == ["Busy"] and [b.title for b in anyone] == ["Busy"]
    assert mine[0].ends_at - mine[0].starts_at == datetime.timedelta(hours=1)


def test_an_expired_access_token_is_refreshed_with_the_refresh_token(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    connection = the_connection(world)
    tokens = google._open_tokens(connection)
    tokens["expiry"] = "2020-01-01T00:00:00+00:00"
    with tenant_context(practice_id=world.a.practice.id):
        GoogleConnection.objects.filter(id=connection.id).update(sealed_tokens=google._seal_tokens(connection.membership_id, tokens))
    fake.events = [this_week_event(fake, "Dentist")]
    assert "Dentist" in client.get(PAGE).content.decode()
    [refresh] = [r for r in fake.seen("/token") if r.form["grant_type"] == "refresh_token"]
    assert refresh.form["refresh_token"] == tokens["refresh_token"] and refresh.form["client_id"] == CLIENT_ID
    assert google._open_tokens(the_connection(world))["access_token"] != tokens["access_token"]


def test_sch3_disconnect_revokes_at_google_wipes_the_tokens_and_hides_the_blocks_at_once(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    fake.events = [this_week_event(fake, "Dentist")]
    assert "Dentist" in client.get(PAGE).content.decode()  # now cached in memory
    refresh = google._open_tokens(the_connection(world))["refresh_token"]

    response = client.post(reverse("scheduling:google-disconnect"))
    assert response.status_code == 302
    [revoke] = fake.seen("/revoke")
    assert revoke.form == {"token": refresh} and revoke.headers["content-type"].startswith("application/x-www-form-urlencoded")
    connection = the_connection(world)
    assert connection.status == "revoked" and connection.sealed_tokens == "" and connection.revoked_reason == "by-clinician"
    page = client.get(PAGE).content.decode()
    assert "Dentist" not in page and "Connect Google Calendar" in page
    with tenant_context(practice_id=world.a.practice.id):
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=8)
        assert google.busy_blocks(clinician(world).id, start, start + datetime.timedelta(days=16)) == []
    [entry] = events(world, AuditEvent.GOOGLE_REVOKED)
    assert entry.detail["reason"] == "by-clinician" and entry.actor_id == str(world.a.user(Role.CLINICIAN).pk)


def test_sch3_disconnect_stops_locally_even_when_google_refuses_the_revocation(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    fake.revoke_status = 503
    response = client.post(reverse("scheduling:google-disconnect"), follow=True)
    assert "did not confirm the revocation" in response.content.decode()
    assert the_connection(world).sealed_tokens == ""


@pytest.mark.parametrize("mode", ["invalid_grant", "401"])
def test_sch3_revoked_at_google_mid_view_ends_the_link_with_a_clear_notice(world, signed_in, fake, mode):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    fake.events = [this_week_event(fake, "Dentist")]
    fake.mode = mode
    fake.expire_access_tokens()  # Google no longer honours the access token
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Google Calendar access ended; connect again." in text and "Dentist" not in text
    connection = the_connection(world)
    assert connection.status == "revoked" and connection.revoked_reason == "revoked-at-google" and connection.sealed_tokens == ""
    [entry] = events(world, AuditEvent.GOOGLE_REVOKED)
    assert entry.detail["reason"] == "revoked-at-google"


@pytest.mark.parametrize("mode", ["500", "slow"])
def test_google_down_or_slow_shows_a_notice_and_booking_can_tell(world, signed_in, fake, mode):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    fake.events = [this_week_event(fake, "Dentist")]
    fake.mode, fake.slow_seconds = mode, 2.5
    began = time.monotonic()
    page = client.get(PAGE)
    assert time.monotonic() - began < 2.4  # the 1 s timeout, not Google's pace
    assert page.status_code == 200
    assert "Google Calendar is not answering; its busy times are not shown." in page.content.decode()
    assert the_connection(world).status == "connected"  # not mistaken for a revocation
    start = datetime.datetime.now(datetime.UTC)
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(google.GoogleUnavailable):
        google.busy_intervals_or_raise(clinician(world).id, start, start + datetime.timedelta(days=1))


def _cache_texts(settings) -> list[str]:
    """Everything in every configured Django cache, unpickled where it can be (SCH2)."""
    from django.core.cache import caches

    texts = []
    for alias, config in settings.CACHES.items():
        backend = config["BACKEND"]
        if backend.endswith("FileBasedCache"):
            for path in Path(config["LOCATION"]).rglob("*"):
                if path.is_file():
                    raw = path.read_bytes()
                    texts.append(raw.decode("latin-1"))
                    with path.open("rb") as f:
                        try:
                            pickle.load(f)
                            texts.append(repr(pickle.loads(zlib.decompress(f.read()))))
                        except Exception:  # noqa: BLE001,S110 — not a cache entry
                            pass
        elif backend.endswith("LocMemCache"):
            texts += [repr(pickle.loads(v)) for v in caches[alias]._cache.values()]
        elif backend.endswith("DummyCache"):
            continue
        else:
            pytest.fail(f"the SCH2 test cannot read cache backend {backend}: teach it")
    return texts


def _database_texts() -> list[str]:
    """Every text and binary column of every table this role can read, plus the decoded sessions."""
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction

    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            try:
                with transaction.atomic():
                    cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 — names from introspection
                    rows = cursor.fetchall()
            except Exception:  # noqa: BLE001 — a table this role may not read holds nothing it wrote
                continue
            for row in rows:
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        texts.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        texts.append(str(value))
    texts += [str(s.get_decoded()) for s in Session.objects.all()]
    return texts


def test_sch2_no_event_content_is_stored_in_the_database_or_the_cache(world, signed_in, fake, settings):
    client = signed_in(Role.CLINICIAN)
    connect(client, fake)
    fake.events = [this_week_event(fake, CANARY_TITLE)]
    page = client.get(PAGE).content.decode()
    assert CANARY_TITLE in page  # displayed…
    with tenant_context(practice_id=world.a.practice.id):
        stored = _database_texts()
    assert len(stored) > 100  # the scan did read the database
    assert not [t for t in stored if CANARY_TITLE in t]  # …never stored
    assert not [t for t in _cache_texts(settings) if CANARY_TITLE in t]


def test_sch3_deactivating_the_member_revokes_their_google_link(world, signed_in, fake, django_capture_on_commit_callbacks):
    from confide.accounts.staff import check_deactivate_member

    connect(signed_in(Role.CLINICIAN), fake)
    owner = StaffActor.from_membership(world.a.memberships[Role.OWNER])
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        check_deactivate_member(actor=owner, membership_id=clinician(world).id)
    connection = the_connection(world)
    assert connection.status == "revoked" and connection.revoked_reason == "membership-ended" and connection.sealed_tokens == ""
    assert len(fake.seen("/revoke")) == 1


def test_unconfigured_server_says_so(world, signed_in, settings):
    settings.CONFIDE_GOOGLE_CLIENT_ID = ""
    client = signed_in(Role.CLINICIAN)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "operator has not set up Google Calendar" in page.content.decode()
    response = client.post(reverse("scheduling:google-connect"), follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    assert "operator has not set up Google Calendar" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert not GoogleOAuthState.objects.exists()


def test_google_refusing_at_the_consent_screen_is_said_plainly(world, signed_in, fake):
    client = signed_in(Role.CLINICIAN)
    path, query = authorize(client, fake)
    response = client.get(path, {"error": "access_denied", "state": query["state"]})
    assert response.status_code == 400 and "access was not granted" in response.content.decode()
    assert fake.seen("/token") == []
    opened_by_hand = client.get(path, follow=True)
    assert opened_by_hand.redirect_chain == [(PAGE, 302)] and "no Google sign-in to finish" in opened_by_hand.content.decode()
