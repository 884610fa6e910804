"""ACC6 for patients: closing the portal account from the account page — a fresh confirmation
first; every session ends; every link of the account ends ("deactivated"); the medical record
is untouched; audited on each practice's chain; a confirmation e-mail; the signed-out page says
what was kept and that the practice can invite again."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from confide.accounts.models import PortalLink, User
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from tests.conftest import PASSWORD
from tests.portal_world import portal_sign_in


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def close(client):
    with _capture(execute=True):
        return client.post(reverse("portal:deactivate"))


def test_the_close_page_says_what_happens_before_anything_is_done(client, portal):
    portal_sign_in(client, portal.parent.user)
    body = client.get(reverse("portal:deactivate")).content.decode()
    assert "Your medical record is not deleted" in body and "all 2 records" in body
    assert User.objects.get(pk=portal.parent.user.pk).is_active


def test_acc6_closing_the_account_ends_every_session_and_link_and_keeps_the_record(client, portal, world):
    user = portal.parent.user
    other = portal_sign_in(Client(), user)
    portal_sign_in(client, user)
    response = close(client)
    assert response["Location"] == reverse("portal:closed")
    page = client.get(response["Location"]).content.decode()
    assert "Your portal account is closed" in page and "not deleted" in page and "new invitation" in page
    assert world.a.practice.name in page
    user.refresh_from_db()
    assert not user.is_active
    assert other.get(reverse("portal:home"))["Location"].startswith(reverse("portal:signin"))
    assert client.get(reverse("portal:home"))["Location"].startswith(reverse("portal:signin"))
    with tenant_context(practice_id=world.a.practice.id):
        links = list(PortalLink.objects.filter(user=user))
        assert Patient.objects.filter(pk__in=[portal.parent.patient.pk, portal.child.pk]).count() == 2
    assert len(links) == 2 and all(not link.is_active and link.ended_reason == "deactivated" for link in links)
    entry = AuditEntry.objects.get(event=AuditEvent.PORTAL_ACCOUNT_DEACTIVATED)
    assert entry.practice_id == world.a.practice.id and sorted(entry.detail["links_ended"]) == sorted(str(link.id) for link in links)
    assert mail.outbox[-1].to == [user.email] and "closed" in mail.outbox[-1].subject


def test_a_closed_account_cannot_sign_in(client, portal):
    portal_sign_in(client, portal.adult.user)
    close(client)
    again = Client()
    response = again.post(reverse("portal:signin"), {"username": portal.adult.user.email, "password": PASSWORD})
    assert response.status_code == 200 and "did not match a portal account" in response.content.decode()
    assert "_auth_user_id" not in again.session


def test_closing_needs_a_fresh_confirmation(client, portal):
    import time

    from django.conf import settings

    from confide.core.middleware import SESSION_AUTH_FRESH_AT

    portal_sign_in(client, portal.adult.user)
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = int(time.time()) - settings.CONFIDE_RECENT_AUTH_MINUTES * 60 - 60
    session.save()
    response = close(client)
    assert response["Location"].startswith(reverse("portal:reauth"))
    assert User.objects.get(pk=portal.adult.user.pk).is_active


def test_the_closed_page_alone_shows_no_practice(client):
    body = client.get(reverse("portal:closed")).content.decode()
    assert "Your portal account is closed" in body
