"""Password reset by e-mail (issue 12, item 3): the same answer for known and unknown addresses,
limits per address and per client in the database, a single-use link whose token moves into the
session, every other session ended, MFA still asked for afterwards (ACC1–ACC3), recorded with
ids only (ACC6)."""

from __future__ import annotations

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from confide.accounts.models import AttemptCount, TOTPDevice, User
from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.conftest import CANARIES, PASSWORD, sign_in

NEW_PASSWORD = "Lantern-Orchard-Velvet-42"
REQUEST = reverse("accounts:password-reset")
NEW = reverse("accounts:password-reset-new")


def _ask(client, email, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(REQUEST, {"email": email}, **extra)


def _link_from_outbox() -> str:
    [message] = mail.outbox
    return re.search(r"http://\S+", message.body).group(0)


@pytest.fixture
def asked(client, world, run_tasks, django_capture_on_commit_callbacks):
    """The clinician (a canary address) asked for a reset; returns (user, link)."""
    user = world.a.user(Role.CLINICIAN)
    assert _ask(client, user.email, django_capture_on_commit_callbacks).status_code == 200
    run_tasks()
    return user, _link_from_outbox()


def _open(client, link):
    parts = urlsplit(link)
    return client.get(parts.path, parse_qs(parts.query))


# --- asking ------------------------------------------------------------------------------------
def test_acc1_known_and_unknown_addresses_get_the_same_page_and_the_same_work(client, world, django_capture_on_commit_callbacks):
    known = _ask(client, world.a.owner.email, django_capture_on_commit_callbacks)
    unknown = _ask(Client(), "nobody@nowhere.example.test", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 200
    scrub = lambda r: re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"|nonce="[^"]+"', b"", r.content)  # noqa: E731
    assert scrub(known) == scrub(unknown)
    assert b"If an account uses that address" in known.content
    # One audit entry and one queued task each; the e-mail is the worker's, not the request's.
    assert mail.outbox == []
    assert DBTaskResult.objects.filter(task_path="confide.accounts.tasks.send_password_reset").count() == 2
    entries = list(AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET_REQUESTED).order_by("seq"))
    assert [e.chain for e in entries] == [PLATFORM_CHAIN] * 2
    assert not entries[0].actor_id and entries[0].detail == {"user_id": str(world.a.owner.pk)}
    assert not entries[1].actor_id and set(entries[1].detail) == {"identifier_hash"}


def test_acc1_the_e_mail_goes_to_a_known_address_only_and_links_to_the_base_url(client, world, run_tasks, settings, django_capture_on_commit_callbacks):
    settings.CONFIDE_BASE_URL = "http://127.0.0.1:8123"
    _ask(client, "nobody@nowhere.example.test", django_capture_on_commit_callbacks)
    _ask(client, world.a.owner.email.upper(), django_capture_on_commit_callbacks)  # any capitalisation
    run_tasks()
    [message] = mail.outbox
    assert message.to == [world.a.owner.email]
    assert _link_from_outbox().startswith("http://127.0.0.1:8123/signin/reset/link/?u=")
    assert "authenticator" in message.body


def test_acc1_a_deactivated_account_gets_no_e_mail(client, world, run_tasks, django_capture_on_commit_callbacks):
    user = world.a.user(Role.BILLING)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert _ask(client, user.email, django_capture_on_commit_callbacks).status_code == 200
    run_tasks()
    assert mail.outbox == []


def test_acc1_a_malformed_address_is_refused_with_a_message_and_nothing_counted(client, world):
    response = client.post(REQUEST, {"email": "not an address"})
    assert response.status_code == 400 and b"Enter an e-mail address like" in response.content
    assert not AttemptCount.objects.exists() and not AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET_REQUESTED).exists()


def test_acc1_requests_per_address_are_limited_for_known_and_unknown_alike(client, world, settings, django_capture_on_commit_callbacks):
    settings.CONFIDE_PASSWORD_RESET_PER_ADDRESS_HOUR = 2
    for email in (world.a.owner.email, "nobody@nowhere.example.test"):
        answers = [_ask(Client(REMOTE_ADDR=f"10.0.0.{i}"), email, django_capture_on_commit_callbacks).status_code for i in range(3)]
        assert answers == [200, 200, 429]
    refused = _ask(Client(), world.a.owner.email, django_capture_on_commit_callbacks)
    assert re.search(rb"Too many reset requests from here or for this address\. Wait \d+ minutes?, then ask again\.", refused.content)
    assert b'value="owner@a.example.test"' in refused.content  # what was typed stays
    assert AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET_REQUESTED).count() == 4
    # The counter keeps keyed hashes, never an address.
    assert not AttemptCount.objects.filter(key__contains="@").exists()


def test_acc1_requests_per_client_address_are_limited(client, world, settings, django_capture_on_commit_callbacks):
    settings.CONFIDE_PASSWORD_RESET_PER_IP_HOUR = 3
    answers = [_ask(client, f"person{i}@nowhere.example.test", django_capture_on_commit_callbacks).status_code for i in range(4)]
    assert answers == [200, 200, 200, 429]
    assert _ask(Client(REMOTE_ADDR="10.9.9.9"), "person9@nowhere.example.test", django_capture_on_commit_callbacks).status_code == 200


def test_acc6_no_e_mail_address_reaches_the_log_or_the_audit_entries(client, world, caplog_all, run_tasks, django_capture_on_commit_callbacks):
    _ask(client, CANARIES["email"], django_capture_on_commit_callbacks)
    run_tasks()
    assert CANARIES["email"] not in caplog_all.text
    for entry in AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET_REQUESTED):
        assert "@" not in repr(entry.detail)


# --- the link ------------------------------------------------------------------------------------
def test_acc1_opening_the_link_moves_the_token_into_the_session_and_away_from_the_address(client, asked):
    user, link = asked
    opened = _open(client, link)
    assert opened.status_code == 302 and opened["Location"] == NEW
    page = client.get(NEW)
    assert page.status_code == 200 and b"Choose a new password" in page.content
    assert parse_qs(urlsplit(link).query)["t"][0].encode() not in page.content


def test_acc1_a_tampered_or_foreign_link_is_refused_clearly(client, asked, world):
    user, link = asked
    query = parse_qs(urlsplit(link).query)
    for params in ({"u": query["u"][0], "t": "1-abc"}, {"u": "bm9wZQ", "t": query["t"][0]}, {"u": "\x00", "t": "x" * 500}, {}):
        response = client.get(reverse("accounts:password-reset-link"), params)
        assert response.status_code == 400 and b"does not work any more" in response.content
    assert client.get(NEW).status_code == 400  # nothing was put into the session


def test_acc1_acc2_a_reset_sets_the_password_ends_other_sessions_and_still_asks_for_the_code(client, world, run_tasks, django_capture_on_commit_callbacks):
    user = world.a.user(Role.CLINICIAN)
    # Signed in elsewhere first (a sign-in after the e-mail would void its link: Django's token
    # covers the last sign-in time, too).
    elsewhere = sign_in(Client(), user, world.a.practice)
    assert elsewhere.get("/").status_code == 200
    _ask(client, user.email, django_capture_on_commit_callbacks)
    run_tasks()
    _open(client, _link_from_outbox())
    done = client.post(NEW, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("accounts:login")

    assert elsewhere.get("/").status_code == 302  # the other session ended
    assert client.get("/").status_code == 302  # nobody was signed in by the reset
    old = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert old.status_code == 200  # the old password no longer works
    signed = client.post(reverse("accounts:login"), {"username": user.email, "password": NEW_PASSWORD})
    assert signed.status_code == 302 and signed["Location"].startswith(reverse("accounts:mfa-verify"))
    assert client.get("/").status_code == 302  # the authenticator is still asked for
    code = TOTPDevice.objects.get(user=user).current_code()
    assert client.post(reverse("accounts:mfa-verify"), {"token": code, "next": "/"}).status_code == 302
    assert client.get("/").status_code == 200

    [entry] = AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET)
    assert (entry.chain, entry.actor_id, entry.detail) == (PLATFORM_CHAIN, str(user.pk), {"user_id": str(user.pk)})


def test_acc1_the_link_works_once(client, asked):
    user, link = asked
    _open(client, link)
    client.post(NEW, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    again = Client()
    response = _open(again, link)
    assert response.status_code == 400 and b"does not work any more" in response.content


def test_acc1_a_link_older_than_the_limit_is_refused(client, asked, settings):
    user, link = asked
    import time_machine

    later = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    with time_machine.travel(later):
        assert _open(client, link).status_code == 400


def test_acc1_a_weak_or_mismatched_password_is_refused_with_every_error_and_nothing_changes(client, asked):
    user, link = asked
    before = User.objects.get(pk=user.pk).password
    _open(client, link)
    mismatched = client.post(NEW, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert mismatched.status_code == 400
    weak = client.post(NEW, {"new_password1": "12345", "new_password2": "12345"})
    assert weak.status_code == 400 and b"too short" in weak.content and b"entirely numeric" in weak.content
    assert User.objects.get(pk=user.pk).password == before
    # The link still works after refused attempts.
    assert client.post(NEW, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302


def test_acc1_a_reset_lifts_the_sign_in_lockout_of_the_account(client, world, asked, settings):
    from axes.models import AccessAttempt

    user, link = asked
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post(reverse("accounts:login"), {"username": user.email, "password": "wrong-password-0"})
    locked = Client().post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert locked.status_code == 429 and reverse("accounts:password-reset").encode() in locked.content
    _open(client, link)
    client.post(NEW, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert not AccessAttempt.objects.exists()
    signed = Client().post(reverse("accounts:login"), {"username": user.email, "password": NEW_PASSWORD})
    assert signed.status_code == 302 and signed["Location"].startswith(reverse("accounts:mfa-verify"))


def test_the_sign_in_page_links_to_the_reset(client, db):
    assert reverse("accounts:password-reset").encode() in client.get(reverse("accounts:login")).content
