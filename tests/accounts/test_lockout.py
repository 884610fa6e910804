"""ACC6: repeated failures lock the (account, address) pair for a cool-off, then it lifts."""

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.conftest import PASSWORD


def _attempt(client, email, password, ip="203.0.113.9"):
    return client.post(reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_acc6_five_failures_lock_out_even_the_right_password(client, world, settings):
    email = "owner@a.example.test"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _attempt(client, email, "wrong-password-1").status_code == 200
    locked = _attempt(client, email, "wrong-password-1")
    assert locked.status_code == 429
    assert b"paused for 15 minutes" in locked.content
    assert _attempt(client, email, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    locked = AuditEntry.objects.filter(event=AuditEvent.SIGNIN_LOCKED_OUT, detail__user_id=str(world.a.owner.pk)).first()  # once per refused try
    # Before sign-in there is no practice and nobody acting: the platform chain, an anonymous actor.
    assert (locked.chain, locked.actor_kind, locked.actor_id, locked.ip_address) == (PLATFORM_CHAIN, "anonymous", "", "203.0.113.9")


def test_case_variations_share_one_failure_counter(client, world, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, "owner@a.example.test".upper() if i % 2 else "Owner@A.example.test", "wrong-password-1")
    assert _attempt(client, "owner@a.example.test", PASSWORD).status_code == 429


def test_lockout_is_per_address_not_for_the_whole_account(client, world, settings):
    email = "owner@a.example.test"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, email, "wrong-password-1", ip="203.0.113.9")
    # The clinic's own network is unaffected by an attacker elsewhere.
    assert _attempt(client, email, PASSWORD, ip="198.51.100.7").status_code == 302


def test_lockout_lifts_after_the_cool_off(client, world, settings):
    email = "owner@a.example.test"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(client, email, "wrong-password-1")
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=5)):
        assert _attempt(client, email, PASSWORD).status_code == 302
