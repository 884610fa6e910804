"""ACC2: the back-off after wrong codes starts after a few of them, not after one mistyped
digit, and says how long to wait in words that are right in number (issue 12, item 9)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from confide.accounts import services
from confide.accounts.models import RecoveryCodeDevice, TOTPDevice
from confide.core.permissions import Role
from tests.conftest import PASSWORD


def _password_step(client, email):
    assert client.post(reverse("accounts:login"), {"username": email, "password": PASSWORD}).status_code == 302


def test_acc2_one_wrong_code_does_not_block_the_next_right_one(client, world):
    owner = world.a.owner
    _password_step(client, owner.email)
    wrong = client.post(reverse("accounts:mfa-verify"), {"token": "000000"})
    assert wrong.status_code == 400 and b"did not match" in wrong.content
    assert b"Too many" not in wrong.content
    right = client.post(reverse("accounts:mfa-verify"), {"token": TOTPDevice.objects.get(user=owner).current_code(), "next": "/"})
    assert right.status_code == 302 and right["Location"] == "/"


def test_acc2_the_back_off_starts_after_the_free_failures_and_then_refuses_even_the_right_code(client, world, settings):
    settings.CONFIDE_MFA_FREE_FAILURES = 3
    owner = world.a.owner
    _password_step(client, owner.email)
    for _ in range(3):
        response = client.post(reverse("accounts:mfa-verify"), {"token": "000000"})
        assert b"did not match" in response.content and b"Too many" not in response.content
    client.post(reverse("accounts:mfa-verify"), {"token": "000000"})  # the fourth: 1 second to wait
    refused = client.post(reverse("accounts:mfa-verify"), {"token": TOTPDevice.objects.get(user=owner).current_code()})
    assert refused.status_code == 400
    assert b"Too many wrong codes. Wait 1 second, then try again." in refused.content
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("failures", "message"),
    [(4, "Wait 1 second,"), (5, "Wait 2 seconds,"), (7, "Wait 8 seconds,"), (10, "Wait 2 minutes,"), (13, "Wait 9 minutes,")],
)
def test_acc2_the_wait_is_stated_right_in_number_and_grammar(world, settings, clock, failures, message):
    settings.CONFIDE_MFA_FREE_FAILURES = 3
    device = TOTPDevice.objects.get(user=world.a.owner)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=failures, throttling_failure_timestamp=timezone.now())
    device.refresh_from_db()
    assert services._throttled_message(device) == f"Too many wrong codes. {message} then try again."


def test_acc2_the_wait_counts_down_and_then_the_right_code_works(world, settings, clock):
    settings.CONFIDE_MFA_FREE_FAILURES = 0
    device = TOTPDevice.objects.get(user=world.a.owner)
    # The fourth failure in a row: 8 seconds (1, 2, 4, 8). While waiting, a try is refused
    # without counting, so the counters are set as four spaced-out failures leave them.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=4, throttling_failure_timestamp=timezone.now())
    device.refresh_from_db()
    assert "Wait 8 seconds" in services._throttled_message(device)
    clock.shift(datetime.timedelta(seconds=5))
    assert "Wait 3 seconds" in services._throttled_message(device)
    clock.shift(datetime.timedelta(seconds=3))
    assert services._throttled_message(device) is None
    assert device.verify_token(device.current_code())


def test_acc2_recovery_codes_get_the_same_free_failures(world, settings):
    settings.CONFIDE_MFA_FREE_FAILURES = 2
    recovery = RecoveryCodeDevice.objects.get(user=world.a.user(Role.BILLING))
    codes = recovery.regenerate()
    assert not recovery.verify_token("wrong-guess")
    assert recovery.verify_token(codes[0])  # one wrong guess does not block the right one
    for _ in range(3):
        assert not recovery.verify_token("wrong-guess")
    assert not recovery.verify_token(codes[1])  # past the free failures: waiting
    assert recovery.verify_is_allowed()[0] is False
