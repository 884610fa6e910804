"""Every URL has exactly one row in ROUTE_POLICY, its view carries that row, and a view outside
the table cannot be reached."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from confide.core.routes import PORTAL_AUDIENCES, ROUTE_POLICY, Audience
from tests.conftest import sign_in
from tests.security import urls_unlisted
from tests.security.routes_helpers import all_routes, kwarg_converters

ROUTES = list(all_routes())
ROUTE_NAMES = [name for name, _ in ROUTES]
KNOWN_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def test_every_route_has_a_policy_row():
    missing = sorted(name for name in ROUTE_NAMES if name not in ROUTE_POLICY)
    assert not missing, f"declare an access policy in confide/core/routes.py for {missing}"


def test_no_policy_row_without_a_route():
    stale = sorted(set(ROUTE_POLICY) - set(ROUTE_NAMES))
    assert not stale, f"remove the ROUTE_POLICY rows of deleted routes {stale}"


def test_url_names_are_unique():
    duplicates = sorted({name for name in ROUTE_NAMES if ROUTE_NAMES.count(name) > 1})
    assert not duplicates, f"one URL name, one row: {duplicates} are used by several routes"


@pytest.mark.parametrize(("name", "pattern"), ROUTES, ids=ROUTE_NAMES)
def test_view_carries_its_own_row(name, pattern):
    callback = pattern.callback
    assert getattr(callback, "confide_route", None) == name, f"{name}: decorate the view with @route({name!r})"
    assert getattr(callback, "confide_policy", None) == ROUTE_POLICY[name]


@pytest.mark.parametrize("name", sorted(ROUTE_POLICY))
def test_row_is_well_formed(name):
    policy = ROUTE_POLICY[name]
    assert policy.methods, f"{name}: no methods"
    assert policy.methods <= KNOWN_METHODS, f"{name}: unknown methods {policy.methods - KNOWN_METHODS}"
    if policy.audience is Audience.STAFF:
        # Every staff route names the permission that admits it; there are no exceptions today.
        # (If one is ever needed, list it here with the reason.)
        assert policy.perm is not None, f"{name}: a STAFF route needs a permission"
    else:
        # The middleware checks `perm` only for STAFF routes: a permission elsewhere would be
        # silently ignored, which is worse than none.
        assert policy.perm is None, f"{name}: perm is only enforced for STAFF routes"
    if policy.recent_auth:
        assert policy.audience in {Audience.ACCOUNT, Audience.STAFF, Audience.PORTAL}, f"{name}: re-authentication needs a signed-in user"


@pytest.mark.parametrize("name", sorted(ROUTE_POLICY))
def test_tenant_scoped_flag_matches_the_url(name):
    """A URL carrying object ids is tenant-scoped (so the cross-practice 404 test covers it)."""
    assert ROUTE_POLICY[name].tenant_scoped == bool(kwarg_converters(name)), (
        f"{name}: tenant_scoped must be True exactly when the URL carries ids ({sorted(kwarg_converters(name))})"
    )


# Portal routes skip Django's LoginRequiredMiddleware on purpose (core/decorators.py): the
# route-policy middleware sends a visitor to the portal's own sign-in instead of the staff one.
@pytest.mark.parametrize(
    "name", [n for n, p in sorted(ROUTE_POLICY.items()) if p.audience is not Audience.PUBLIC and p.audience not in PORTAL_AUDIENCES]
)
def test_only_public_routes_skip_the_sign_in_requirement(name):
    callback = dict(ROUTES)[name].callback
    assert getattr(callback, "login_required", True) is True, f"{name} is marked login_not_required but is not PUBLIC"


def test_the_public_routes_are_exactly_these():
    assert sorted(n for n, p in ROUTE_POLICY.items() if p.audience is Audience.PUBLIC) == [
        "accounts:invitation", "accounts:invitation-accept", "accounts:login", "accounts:password-reset",
        "accounts:password-reset-link", "accounts:password-reset-new", "consent:choices", "consent:collect",
        "consent:do-not-sell", "consent:limit-sensitive", "core:healthz",
        "directory:book",  # issue 16, part "booking": the public booking page (honeypot, hourly limit, one-time token)
        # the practice's website (its pages 404 until published) and a referred colleague's decline link
        "directory:home", "directory:locations", "directory:logo", "directory:photo", "directory:practitioner",
        "directory:referral-decline", "directory:services", "directory:team", "directory:theme",
        "intake:consult",
        "messaging:hook-sms", "messaging:hook-sms-status",  # Twilio's webhooks: the signature is the key (MSG7)
        "messaging:unsubscribe",  # one-click unsubscribe: the signed token is the key (RFC 8058)
        "policy:notice",
        "policy:notice-version", "portal:closed", "portal:invitation", "portal:invitation-accept", "portal:passkey-signin",
        "portal:passkey-signin-options", "portal:password-reset", "portal:password-reset-link", "portal:password-reset-new",
        "portal:signin",
        # issue 17, part "intake": the public privacy request form and its code page (honeypot, hourly limit, one-time code)
        "rights:public-request", "rights:public-verify",
        "rights:release-open",  # amend part: a records release link; the token is the key
        "scheduling:feed-ics",  # a clinician's private calendar feed: the token is the key (scheduling, feed part)
        "site:setup",
    ]  # fmt: skip


@override_settings(ROOT_URLCONF="tests.security.urls_unlisted")
def test_a_view_without_a_row_is_unreachable(world):
    urls_unlisted.CALLS.clear()
    # The test URLconf really routes to the undecorated views (they are not simply missing) ...
    assert {name for name, _ in all_routes("tests.security.urls_unlisted")} - set(ROUTE_POLICY) == {"unlisted", "unlisted-public"}

    owner = sign_in(Client(), world.a.owner, world.a.practice)
    for path in ("/unlisted/", "/unlisted-public/"):
        for method in ("get", "post"):
            response = getattr(owner, method)(path)
            assert response.status_code == 404, (path, method)
            assert b"view ran" not in response.content
    anonymous = Client()
    assert anonymous.get("/unlisted-public/").status_code == 404
    redirected = anonymous.get("/unlisted/")
    assert redirected.status_code == 302 and redirected["Location"].startswith(reverse(settings.LOGIN_URL))
    assert urls_unlisted.CALLS == [], "an undecorated view ran"

    # ... and the real routes still work under that URLconf (the 404s are not a broken setup).
    assert owner.get("/").status_code == 200
