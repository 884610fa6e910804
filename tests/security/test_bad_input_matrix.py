"""Bad input on every POST route: a clear 4xx (or the form again), never a 500, and a refusal
changes nothing. Driven by ROUTE_POLICY, so a new form is tried here automatically.

Each route gets the field names it really has (its valid body from the access matrix, and the
`name=` attributes of its own page where it has one) filled with hostile values: nothing at all,
NUL characters (PostgreSQL refuses them in text), 200,000 characters, markup, a body that is
not valid percent-encoding, and fields nobody asked for. Sent as the owner (every permission,
fresh re-authentication) or, for public pages, as an anonymous visitor."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client

from confide.core.routes import PORTAL_AUDIENCES, ROUTE_POLICY, Audience
from tests.conftest import CANARIES, sign_in
from tests.security.routes_helpers import route_names, snapshot, url_for
from tests.security.test_access_matrix import EFFECTFUL as EFFECTFUL_ROUTES
from tests.security.test_access_matrix import payload_for

POST_ROUTES = [name for name in route_names() if "POST" in ROUTE_POLICY[name].methods]
FORM = "application/x-www-form-urlencoded"


# The consultation form's bot trap: filled in, the visitor is thanked and nothing is kept, whatever
# else was sent; left out here so the bodies reach the form's own checks.
HONEYPOTS = {"website"}


# POST-only routes whose form lives on another page: the fields that form sends.
POSTED_FROM_ELSEWHERE = {
    "intake:accept": {"merge_into"},
    "intake:reject": {"message", "text"},
    "accounts:switch-practice": {"practice_id", "next"},
    "consent:collect": {"route"},
    "policy:acknowledge": {"next"},
    # issue 16, part "booking"
    "directory:booking-accept": {"merge_into"},
    "directory:booking-decline": {"reason"},
}


def _without_audit(rows: dict) -> dict:
    # An audit entry for a refusal is wanted (a failed sign-in, a refused consultation); it is
    # every other row that must stay as it was.
    return {table: value for table, value in rows.items() if table != "AuditEntry"}


def _fill(names: list[str], value: str) -> str:
    return urlencode({name: value for name in names})


BODIES = {
    "empty": lambda names: "",
    "nul": lambda names: _fill(names, "a\x00b"),
    "huge": lambda names: _fill(names, "x" * 200_000),
    "markup": lambda names: _fill(names, "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"),
    "bad-encoding": lambda names: "&".join(f"{name}=%ff%fe%00%zz" for name in names) or "%ff=%fe",
    "unknown-fields": lambda names: urlencode({"is_superuser": "1", "practice_id": "00000000-0000-0000-0000-000000000000", "id": "1"}),
}


def _client_for(name: str, world) -> Client:
    if ROUTE_POLICY[name].audience is Audience.PUBLIC:
        return Client()
    if ROUTE_POLICY[name].audience in PORTAL_AUDIENCES:
        # A portal page is tried as the portal account it is for (a staff session never reaches it).
        from tests.portal_world import portal_sign_in, portal_world

        if not hasattr(world, "portal"):
            world.portal = portal_world(world.a)
        return portal_sign_in(Client(), world.portal.adult.user)
    return sign_in(Client(), world.a.owner, world.a.practice)


class _Fields(HTMLParser):
    """The names of a page's form fields, and the values of its hidden ones."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()
        self.hidden: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "textarea", "select", "button") and attrs.get("name"):
            self.names.add(attrs["name"])
            if tag == "input" and attrs.get("type") == "hidden":
                self.hidden[attrs["name"]] = attrs.get("value") or ""


def _fields(client: Client, name: str, url: str, world) -> tuple[list[str], dict[str, str]]:
    """(the fields to fill with a bad value, the hidden ones kept as the page gave them: a form's
    signed token must be right for the bad values to reach the checks behind it)."""
    valid = payload_for(name, "POST", world.a)
    page = _Fields()
    if "GET" in ROUTE_POLICY[name].methods:
        response = client.get(url)
        if response.status_code == 200:
            page.feed(response.content.decode())
    kept = {key: value for key, value in page.hidden.items() if key != "csrfmiddlewaretoken"}
    names = {key for key, value in valid.items() if not hasattr(value, "read")} | page.names | POSTED_FROM_ELSEWHERE.get(name, set())
    names = names - set(kept) - HONEYPOTS
    return sorted(names - {"csrfmiddlewaretoken"}), kept


# Routes whose button is the whole request (no field to get wrong: accept, reject, reset, sign
# out, ...) act on any body; and free text that happens to be markup is a valid note, stored as
# typed and shown escaped. Everything else that changes a row on one of these bodies is a bug.
# One-button actions with no fields of their own (each behind a fresh confirmation where it matters):
# a body is not what they act on. Closing a portal account is one (its GET page says what happens).
ACTS_ON_ANY_BODY = EFFECTFUL_ROUTES | {"accounts:mfa-replace", "accounts:recovery-codes-regenerate", "accounts:logout", "portal:deactivate"}
ABSENT_MEANS_DEFAULT = {"intake:accept", "directory:booking-accept"}  # no merge_into: accepted into a new chart
OPTIONAL = {"next"}  # where to go afterwards: a bad one is ignored (the default page), never followed
FREE_TEXT = {"records:note-new", "records:note-edit", "records:note-addendum", "records:psychotherapy-new", "records:psychotherapy-addendum"}


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("name", POST_ROUTES)
def test_bad_input_is_refused_clearly_and_never_a_500(world, name, body):
    cache.clear()  # the public forms' rate limits count per test
    client = _client_for(name, world)
    url = url_for(name, world.a)
    names, kept = _fields(client, name, url, world)
    before = _without_audit(snapshot())
    bad = BODIES[body](names)
    response = client.generic("POST", url, data="&".join(part for part in (urlencode(kept), bad) if part), content_type=FORM)
    assert response.status_code < 500, f"{name}: {response.status_code} for the {body!r} body"
    text = response.content.decode(errors="replace")
    assert "<script>alert(1)</script>" not in text, f"{name} echoed markup unescaped"
    if ROUTE_POLICY[name].audience is Audience.PUBLIC:
        assert not [key for key, value in CANARIES.items() if value in text]
    if _without_audit(snapshot()) != before:
        assert response.status_code < 400, f"{name} refused the {body!r} body with {response.status_code} but changed rows"
        acceptable = (
            (name in ACTS_ON_ANY_BODY and not set(names) - OPTIONAL)
            or (name in ABSENT_MEANS_DEFAULT and body in ("empty", "unknown-fields"))
            or (name in FREE_TEXT and body == "markup")
        )
        assert acceptable, f"{name} changed rows on the {body!r} body ({response.status_code})"


# --- GET: the query string ---------------------------------------------------------------------
GET_ROUTES = [name for name in route_names() if "GET" in ROUTE_POLICY[name].methods]
# Query parameters some page reads (paging, filters, where to go next) and any its forms send by GET.
QUERY_NAMES = {"page", "q", "next", "from", "to", "since", "until", "event", "actor", "patient", "purpose", "version", "sort"}
QUERIES = {
    "nul": "a\x00b",
    "huge": "9" * 5000,
    "negative": "-1",
    "markup": "<script>alert(1)</script>",
    "not-a-date": "2026-13-45",
}


@pytest.mark.parametrize("value", sorted(QUERIES))
@pytest.mark.parametrize("name", GET_ROUTES)
def test_a_bad_query_string_is_never_a_500(world, name, value):
    cache.clear()
    client = _client_for(name, world)
    url = url_for(name, world.a)
    page = _Fields()
    first = client.get(url)
    if first.status_code == 200 and first.get("Content-Type", "").startswith("text/html"):
        page.feed(first.content.decode())
    names = sorted((QUERY_NAMES | page.names) - {"csrfmiddlewaretoken"})
    before = _without_audit(snapshot())
    response = client.get(f"{url}?{urlencode({key: QUERIES[value] for key in names})}")
    assert response.status_code < 500, f"{name}: {response.status_code} for ?…={value}"
    if response.get("Content-Type", "").startswith("text/html"):
        text = response.content.decode(errors="replace")
        assert "<script>alert(1)</script>" not in text, f"{name} echoed the query unescaped"
        if ROUTE_POLICY[name].audience is Audience.PUBLIC:  # staff may well be shown a patient's name
            assert not [key for key, canary in CANARIES.items() if canary in text]
    assert _without_audit(snapshot()) == before, f"{name}: a GET changed rows"
