"""ACC6 for patients: the portal's sign-in is throttled and locked out like staff's, a portal
session ends after inactivity and at the absolute cap, and each is audited."""

from __future__ import annotations

import time

from django.conf import settings
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.middleware import SESSION_LAST_SEEN, SESSION_STARTED_AT
from tests.conftest import PASSWORD
from tests.portal_world import portal_sign_in


def test_acc6_repeated_failures_lock_the_portal_sign_in(client, portal):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("portal:signin"), {"username": portal.adult.user.email, "password": "not-the-password"})
    locked = client.post(reverse("portal:signin"), {"username": portal.adult.user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many tries" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(event=AuditEvent.SIGNIN_LOCKED_OUT).exists()


def test_acc6_an_idle_portal_session_is_signed_out(client, portal, world):
    portal_sign_in(client, portal.adult.user)
    session = client.session
    session[SESSION_LAST_SEEN] = int(time.time()) - world.a.practice.idle_timeout_minutes * 60 - 5
    session.save()
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:signin"))
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(event=AuditEvent.SESSION_IDLE_EXPIRED).exists()


def test_acc6_a_portal_session_ends_at_the_absolute_cap(client, portal):
    portal_sign_in(client, portal.adult.user)
    session = client.session
    session[SESSION_STARTED_AT] = int(time.time()) - settings.SESSION_COOKIE_AGE - 5
    session[SESSION_LAST_SEEN] = int(time.time())
    session.save()
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_deactivated_account_is_signed_out_on_its_next_request(client, portal):
    portal_sign_in(client, portal.adult.user)
    portal.adult.user.is_active = False
    portal.adult.user.save(update_fields=["is_active"])
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:signin"))
