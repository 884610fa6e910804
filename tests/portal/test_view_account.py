"""ACC5/ACC6/ACC2 for patients: the portal's account page — name and sign-in address, change the
password (the old one, the new one twice; this session stays, the others end; audited; an
e-mail), the authenticator app (removing it asks for a fresh confirmation), recovery codes."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from confide.accounts.models import RecoveryCodeDevice, TOTPDevice
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.middleware import SESSION_AUTH_FRESH_AT
from tests.conftest import PASSWORD
from tests.factories import enrol_totp
from tests.portal_world import portal_sign_in
from tests.security.routes_helpers import snapshot

NEW_PASSWORD = "Plum-Kettle-Harbour-42"


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def change(client, old=PASSWORD, new=NEW_PASSWORD, again=None):
    with _capture(execute=True):
        return client.post(reverse("portal:password-change"), {"old_password": old, "new_password1": new, "new_password2": again or new})


def stale(client):
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = int(time.time()) - settings.CONFIDE_RECENT_AUTH_MINUTES * 60 - 60
    session.save()


def test_acc5_the_account_page_shows_the_name_and_sign_in_address_and_is_in_the_nav(client, portal):
    portal_sign_in(client, portal.adult.user)
    page = client.get(reverse("portal:account"))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="account-email">ada@' in body and ">Ada<" in body
    assert f'href="{reverse("portal:account")}">Account</a>' in body.replace(' aria-current="page"', "").replace(" active", "")
    assert "Set up an authenticator app" in body


def test_acc5_patient_changes_password_from_the_account_page_and_other_sessions_end(client, portal):
    user = portal.adult.user
    other = portal_sign_in(Client(), user)
    portal_sign_in(client, user)
    response = change(client)
    assert response.status_code == 302 and response["Location"] == reverse("portal:account")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get(reverse("portal:home")).status_code == 200  # this session stays
    assert other.get(reverse("portal:home"))["Location"].startswith(reverse("portal:signin"))  # the other ended
    entry = AuditEntry.objects.get(event=AuditEvent.PASSWORD_CHANGED)
    assert entry.detail == {"user_id": str(user.pk)} and entry.practice_id == portal.adult.link.practice_id
    assert mail.outbox[-1].to == [user.email] and "password" in mail.outbox[-1].subject


@pytest.mark.parametrize(
    ("old", "new", "again", "words"),
    [("wrong-password-0", NEW_PASSWORD, None, "incorrectly"), (PASSWORD, NEW_PASSWORD, "Different-Pass-99", "didn"), (PASSWORD, "password", None, "too common")],
)
def test_a_bad_password_change_gets_400_with_the_reason_and_changes_nothing(client, portal, old, new, again, words):
    portal_sign_in(client, portal.adult.user)
    before = snapshot()
    response = change(client, old, new, again)
    assert response.status_code == 400 and words in response.content.decode()
    assert snapshot() == before and mail.outbox == []


def test_acc2_removing_the_authenticator_asks_for_a_fresh_confirmation_first(client, portal):
    user = portal.adult.user
    enrol_totp(user)
    portal_sign_in(client, user)
    stale(client)
    before = snapshot()
    for method in ("get", "post"):
        response = getattr(client, method)(reverse("portal:mfa-remove"), HTTP_REFERER="http://testserver/portal/account/")
        assert response.status_code == 302 and response["Location"].startswith(f"{reverse('portal:reauth')}?next=")
    assert snapshot() == before
    assert TOTPDevice.objects.filter(user=user).exists()


def test_acc2_removing_the_authenticator_after_confirming_removes_it_and_the_codes(client, portal):
    user = portal.adult.user
    enrol_totp(user)
    portal_sign_in(client, user)
    assert "Remove the authenticator app" in client.get(reverse("portal:account")).content.decode()
    with _capture(execute=True):
        response = client.post(reverse("portal:mfa-remove"))
    assert response["Location"] == reverse("portal:account")
    assert not TOTPDevice.objects.filter(user=user).exists() and not RecoveryCodeDevice.objects.filter(user=user).exists()
    assert AuditEntry.objects.get(event=AuditEvent.MFA_REMOVED).detail["devices_removed"] == 2
    assert mail.outbox[-1].to == [user.email]


def test_new_recovery_codes_replace_the_old_ones(client, portal):
    user = portal.adult.user
    device = enrol_totp(user)
    portal_sign_in(client, user)
    response = client.post(reverse("portal:recovery-codes"))
    assert response.status_code == 200 and "Your old codes no longer work" in response.content.decode()
    recovery = RecoveryCodeDevice.objects.get(user=user)
    assert not recovery.verify_token(device.recovery_codes[0])


@pytest.mark.parametrize(("name", "method"), [("portal:mfa-remove", "get"), ("portal:mfa-remove", "post"), ("portal:deactivate", "get"), ("portal:deactivate", "post"), ("portal:recovery-codes", "post")])
def test_every_portal_route_that_needs_fresh_confirmation_sends_a_stale_session_to_portal_reauth(client, portal, name, method):
    enrol_totp(portal.adult.user)
    portal_sign_in(client, portal.adult.user)
    stale(client)
    before = snapshot()
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(f"{reverse('portal:reauth')}?next=")
    assert snapshot() == before


def test_the_passkeys_link_shows_only_when_the_route_exists(client, portal):
    portal_sign_in(client, portal.adult.user)
    body = client.get(reverse("portal:account")).content.decode()
    try:
        passkeys = reverse("portal:passkeys")
    except Exception:  # noqa: BLE001 — not built on this branch
        assert "Passkeys" not in body
    else:
        assert passkeys in body


def test_acc5_the_dashboard_leads_to_the_account_page_where_the_account_can_be_closed(client, portal):
    portal_sign_in(client, portal.adult.user)
    home = client.get(reverse("portal:home")).content.decode()
    assert 'data-testid="account-link"' in home and reverse("portal:account") in home
    assert reverse("portal:deactivate") in client.get(reverse("portal:account")).content.decode()
