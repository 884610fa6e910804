"""Sensitive actions (role and MFA changes, exports later) need a fresh password + code."""

import re
import time

from django.urls import reverse

from confide.accounts.models import Membership, TOTPDevice
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.middleware import SESSION_AUTH_FRESH_AT
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.conftest import PASSWORD


def _make_stale(client):
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = int(time.time()) - 3600
    session.save()


def test_stale_owner_is_asked_to_confirm_before_a_role_change(signed_in, world):
    client = signed_in(Role.OWNER)
    _make_stale(client)
    target = world.a.memberships[Role.FRONT_DESK]
    url = reverse("accounts:staff-change-role", args=[target.id])
    response = client.post(url, {"role": "billing"}, headers={"Referer": "http://testserver/staff/"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="confirm-in-place"' in html and f'action="{url}"' in html
    assert '<input type="hidden" name="role" value="billing">' in html  # the choice made is kept
    [confirm] = re.findall(r'<form[^>]*data-testid="confirm-in-place".*?</form>', html, flags=re.S)
    assert confirm.count('name="csrfmiddlewaretoken"') == 1  # the page's own token, not the one sent kept as well
    with tenant_context(practice_id=world.a.practice.id):
        assert Membership.objects.get(id=target.id).role == Role.FRONT_DESK


def test_confirming_in_place_carries_out_the_action_as_sent(signed_in, world):
    client = signed_in(Role.OWNER)
    _make_stale(client)
    target = world.a.memberships[Role.FRONT_DESK]
    url = reverse("accounts:staff-change-role", args=[target.id])
    wrong = client.post(url, {"role": "billing", "confirm-password": "not-it-at-all", "confirm-token": "123456"})
    assert wrong.status_code == 400 and b"password or code was not right" in wrong.content
    assert b'<input type="hidden" name="role" value="billing">' in wrong.content
    with tenant_context(practice_id=world.a.practice.id):
        assert Membership.objects.get(id=target.id).role == Role.FRONT_DESK

    code = TOTPDevice.objects.get(user=world.a.owner).current_code()
    done = client.post(url, {"role": "billing", "confirm-password": PASSWORD, "confirm-token": code})
    assert done.status_code == 302
    assert time.time() - client.session[SESSION_AUTH_FRESH_AT] < 5
    with tenant_context(practice_id=world.a.practice.id):
        assert Membership.objects.get(id=target.id).role == Role.BILLING
    assert AuditEntry.objects.filter(event=AuditEvent.REAUTH_FAILED, actor_id=str(world.a.owner.pk)).count() == 1
    assert AuditEntry.objects.filter(event=AuditEvent.REAUTH_SUCCEEDED, actor_id=str(world.a.owner.pk)).count() == 1


def test_a_stale_get_is_still_sent_to_the_confirm_page_and_back(signed_in, world):
    client = signed_in(Role.OWNER)
    _make_stale(client)
    response = client.get(reverse("accounts:practice-settings"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:reauth')}?next={reverse('accounts:practice-settings')}"


def test_reauth_with_password_and_code_makes_the_session_fresh(signed_in, world):
    client = signed_in(Role.OWNER)
    _make_stale(client)
    code = TOTPDevice.objects.get(user=world.a.owner).current_code()
    response = client.post(reverse("accounts:reauth"), {"password": PASSWORD, "token": code, "next": "/staff/"})
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert time.time() - client.session[SESSION_AUTH_FRESH_AT] < 5
    assert AuditEntry.objects.filter(event=AuditEvent.REAUTH_SUCCEEDED, actor_id=str(world.a.owner.pk), detail__user_id=str(world.a.owner.pk)).exists()


def test_reauth_refuses_a_wrong_password_or_missing_code(signed_in, world):
    client = signed_in(Role.OWNER)
    _make_stale(client)
    before = client.session[SESSION_AUTH_FRESH_AT]
    code = TOTPDevice.objects.get(user=world.a.owner).current_code()
    wrong_password = client.post(reverse("accounts:reauth"), {"password": "not-it-at-all", "token": code})
    assert wrong_password.status_code == 400 and b"password or code was not right" in wrong_password.content
    no_code = client.post(reverse("accounts:reauth"), {"password": PASSWORD, "token": ""})
    assert no_code.status_code == 400
    assert client.session[SESSION_AUTH_FRESH_AT] == before
    assert AuditEntry.objects.filter(event=AuditEvent.REAUTH_FAILED, actor_id=str(world.a.owner.pk)).count() == 2


def test_reauth_next_must_stay_on_this_site(signed_in, world):
    client = signed_in(Role.OWNER)
    code = TOTPDevice.objects.get(user=world.a.owner).current_code()
    response = client.post(reverse("accounts:reauth"), {"password": PASSWORD, "token": code, "next": "https://evil.example/"})
    assert response["Location"] == reverse("core:dashboard")
