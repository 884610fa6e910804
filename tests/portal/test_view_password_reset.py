"""ACC5: password reset by e-mail for portal accounts at /portal/password-reset/ — the same
answer whether or not an account uses the address (a staff address gets no link); the link
leaves the address for the session; the new password ends every session; signs nobody in."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.portal_world import portal_sign_in

NEW_PASSWORD = "Plum-Kettle-Harbour-42"
LINK = re.compile(r"https?://[^/\s]+(/portal/password-reset/link/\?\S+)")


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def ask(client, email, run_tasks):
    with _capture(execute=True):
        response = client.post(reverse("portal:password-reset"), {"email": email})
    run_tasks()
    return response


def test_acc5_a_portal_account_gets_a_portal_reset_link_and_sets_a_new_password(client, portal, run_tasks):
    user = portal.adult.user
    signed_in_elsewhere = portal_sign_in(Client(), user)
    response = ask(client, user.email, run_tasks)
    assert response.status_code == 200 and "If an account uses this address" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    path = LINK.search(mail.outbox[0].body).group(1)
    opened = client.get(path)
    assert opened["Location"] == reverse("portal:password-reset-new")
    page = client.get(opened["Location"])
    assert page.status_code == 200 and "Choose a new password" in page.content.decode()
    done = client.post(reverse("portal:password-reset-new"), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("portal:signin")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert signed_in_elsewhere.get(reverse("portal:home"))["Location"].startswith(reverse("portal:signin"))
    assert AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET).count() == 1
    # Used once: the same link again does not work.
    assert client.get(path).status_code == 400


@pytest.mark.parametrize("who", ["staff", "unknown"])
def test_a_staff_or_unknown_address_gets_the_same_answer_and_no_link(client, world, portal, run_tasks, who):
    email = world.a.owner.email if who == "staff" else "nobody@example.test"
    response = ask(client, email, run_tasks)
    assert response.status_code == 200 and "If an account uses this address" in response.content.decode()
    assert mail.outbox == []
    entry = AuditEntry.objects.get(event=AuditEvent.PASSWORD_RESET_REQUESTED)
    assert "user_id" not in entry.detail and "identifier_hash" in entry.detail


def test_a_garbled_reset_link_gets_one_clear_page(client, db):
    response = client.get(reverse("portal:password-reset-link"), {"u": "x", "t": "y"})
    assert response.status_code == 400 and "Ask for a new one" in response.content.decode()
    assert client.get(reverse("portal:password-reset-new")).status_code == 400


def test_a_bad_address_gets_400_and_nothing_is_sent(client, db, run_tasks):
    response = ask(client, "not-an-address", run_tasks)
    assert response.status_code == 400 and mail.outbox == []


def test_the_sign_in_page_links_to_the_reset(client, db):
    assert reverse("portal:password-reset") in client.get(reverse("portal:signin")).content.decode()
