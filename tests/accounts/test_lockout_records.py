"""ACC6 without keeping what it counts: the lockout's own records (django-axes) hold a keyed hash
of the typed address, never the address, no browser string, and only for the lockout window; no
log of sign-ins beside the audit log. Issue 11 item 13."""

from __future__ import annotations

import json
from datetime import timedelta

import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.urls import reverse
from django.utils import timezone

from confide.accounts.services import identifier_hash
from tests.conftest import CANARIES, PASSWORD

UNKNOWN = "someone.typed.this@phi-canary.test"


def _attempt(client, email, password, ip="203.0.113.9"):
    return client.post(reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=ip, HTTP_USER_AGENT="CanaryBrowser/1.0 (Zebulon's phone)")


def _rows() -> list[dict]:
    return [*AccessAttempt.objects.values(), *AccessLog.objects.values(), *AccessFailureLog.objects.values()]


def test_acc6_failed_sign_ins_are_counted_under_a_keyed_hash_of_the_address(client, world):
    for email in (CANARIES["email"], CANARIES["email"].upper(), UNKNOWN):
        _attempt(client, email, "wrong-password-1")
    stored = json.dumps(_rows(), default=str)
    for clear in (CANARIES["email"], CANARIES["email"].upper(), UNKNOWN, "CanaryBrowser", "wrong-password-1"):
        assert clear not in stored, clear
    counts = {a.username: a.failures_since_start for a in AccessAttempt.objects.all()}
    assert counts == {identifier_hash(CANARIES["email"]): 2, identifier_hash(UNKNOWN): 1}
    assert {a.ip_address for a in AccessAttempt.objects.all()} == {"203.0.113.9"}  # per (address, IP), as before


def test_acc6_a_sign_in_leaves_no_access_log(client, world):
    assert _attempt(client, world.a.owner.email, PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    assert not AccessLog.objects.exists() and not AccessFailureLog.objects.exists()


def test_acc6_attempts_are_deleted_once_the_lockout_window_has_passed(client, world, settings, django_capture_on_commit_callbacks):
    from confide.accounts.tasks import prune_signin_attempts

    with django_capture_on_commit_callbacks(execute=True):
        _attempt(client, UNKNOWN, "wrong-password-1")
    assert AccessAttempt.objects.count() == 1
    scheduled = _scheduled_prunes()
    assert len(scheduled) == 1
    assert timezone.now() + settings.AXES_COOLOFF_TIME <= scheduled[0] <= timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=2)

    prune_signin_attempts.call()
    assert AccessAttempt.objects.count() == 1  # still inside the window: it counts towards a lockout
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert prune_signin_attempts.call() == {"attempts": 1, "access_logs": 0}
    assert not AccessAttempt.objects.exists()


def _scheduled_prunes():
    from django_tasks_db.models import DBTaskResult

    return [r.run_after for r in DBTaskResult.objects.filter(task_path="confide.accounts.tasks.prune_signin_attempts")]


def test_acc6_lockout_still_counts_per_address_and_ip_with_hashed_names(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, CANARIES["email"], "wrong-password-1")
    assert _attempt(client, CANARIES["email"], PASSWORD).status_code == 429
    assert _attempt(client, CANARIES["email"], PASSWORD, ip="198.51.100.7").status_code == 302


def test_acc6_the_migration_hashes_the_attempts_already_stored_and_drops_the_logs(db):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("confide.accounts.migrations.0004_axes_records_without_addresses")
    common = {"ip_address": "203.0.113.9", "http_accept": "text/html", "path_info": "/signin/", "get_data": "", "post_data": f"username={UNKNOWN}"}
    AccessAttempt.objects.create(username=UNKNOWN, user_agent="CanaryBrowser/1.0", failures_since_start=2, **common)
    AccessAttempt.objects.create(username=UNKNOWN.upper(), user_agent="CanaryBrowser/2.0", failures_since_start=1, **common)
    AccessLog.objects.create(username=UNKNOWN, user_agent="CanaryBrowser/1.0", ip_address="203.0.113.9", http_accept="", path_info="/")
    migration.forwards(apps, None)
    assert list(AccessAttempt.objects.values_list("username", "ip_address", "user_agent", "post_data", "failures_since_start")) == [
        (identifier_hash(UNKNOWN), "203.0.113.9", "", "", 3)
    ]
    assert not AccessLog.objects.exists()


def test_acc6_the_declaration_names_the_lockout_records_as_technical_data_kept_no_longer_than_said(settings):
    from confide.accounts.tasks import _PRUNE_GRACE
    from confide.policy.loader import load_default
    from confide.policy.schema import period_days

    declaration = load_default()
    assert declaration.categories["technical.signin_attempts"].phi is False  # sign-in, not anyone's health record
    (rule,) = [r for r in declaration.retention if "technical.signin_attempts" in declaration.expand(r.categories)]
    assert settings.AXES_COOLOFF_TIME + _PRUNE_GRACE <= timedelta(days=period_days(rule.period))
