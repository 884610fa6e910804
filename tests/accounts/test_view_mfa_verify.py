"""The second step: TOTP codes, replay refusal, recovery codes (ACC2), all recorded (ACC6)."""

import time

from django.urls import reverse
from django_otp.oath import TOTP

from confide.accounts.models import TOTPDevice
from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.conftest import PASSWORD


def _password_step(client, email):
    response = client.post(reverse("accounts:login"), {"username": email, "password": PASSWORD})
    assert response.status_code == 302


def _code(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, 30, 0, 6, 0)
    totp.time = time.time() + 30 * offset_steps
    return f"{totp.token():06d}"


def test_right_code_reaches_the_dashboard(client, world):
    owner = world.a.owner
    _password_step(client, owner.email)
    device = TOTPDevice.objects.get(user=owner)
    response = client.post(reverse("accounts:mfa-verify"), {"token": _code(device), "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    verified = AuditEntry.objects.get(event=AuditEvent.MFA_VERIFIED)
    assert (verified.chain, verified.actor_id, verified.detail) == (PLATFORM_CHAIN, str(owner.pk), {"method": "totp", "user_id": str(owner.pk)})


def test_wrong_code_is_refused_with_a_message_and_recorded(client, world):
    owner = world.a.owner
    _password_step(client, owner.email)
    response = client.post(reverse("accounts:mfa-verify"), {"token": "000000"})
    assert response.status_code == 400
    assert b"did not match" in response.content
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.filter(event=AuditEvent.MFA_FAILED, actor_id=str(owner.pk), detail__stage="signin").count() == 1


def test_a_code_cannot_be_used_twice(client, world, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    owner = world.a.owner
    device = TOTPDevice.objects.get(user=owner)
    code = _code(device)
    _password_step(client, owner.email)
    assert client.post(reverse("accounts:mfa-verify"), {"token": code}).status_code == 302
    client.post(reverse("accounts:logout"))
    _password_step(client, owner.email)
    replay = client.post(reverse("accounts:mfa-verify"), {"token": code})
    assert replay.status_code == 400
    assert client.get("/").status_code == 302


def test_repeated_wrong_codes_are_throttled(client, world, settings):
    owner = world.a.owner
    _password_step(client, owner.email)
    for _ in range(settings.CONFIDE_MFA_FREE_FAILURES + 1):  # the back-off starts after the free failures
        client.post(reverse("accounts:mfa-verify"), {"token": "000000"})
    device = TOTPDevice.objects.get(user=owner)
    # Throttled now: even the right code is refused until the back-off passes.
    response = client.post(reverse("accounts:mfa-verify"), {"token": _code(device)})
    assert response.status_code == 400
    assert b"Too many wrong codes" in response.content


def test_a_recovery_code_works_once(client, world):
    user = world.a.user(Role.BILLING)
    from tests.factories import enrol_totp

    TOTPDevice.objects.filter(user=user).delete()
    codes = enrol_totp(user).recovery_codes
    _password_step(client, user.email)
    assert client.post(reverse("accounts:mfa-verify"), {"token": codes[0]}).status_code == 302
    assert AuditEntry.objects.filter(event=AuditEvent.MFA_RECOVERY_CODE_USED, actor_id=str(user.pk), detail__user_id=str(user.pk)).exists()
    client.post(reverse("accounts:logout"))
    _password_step(client, user.email)
    assert client.post(reverse("accounts:mfa-verify"), {"token": codes[0]}).status_code == 400


def test_totp_secret_is_sealed_at_rest_and_bound_to_its_row(world):
    from confide.accounts import secretbox

    device = TOTPDevice.objects.get(user=world.a.owner)
    other = TOTPDevice.objects.get(user=world.b.owner)
    assert device.sealed_key.startswith("pk1:")
    assert device.bin_key.hex() not in device.sealed_key
    # Pasting one user's sealed secret into another's row does not open.
    other.sealed_key = device.sealed_key
    try:
        other.bin_key
    except secretbox.SecretBoxError:
        pass
    else:
        raise AssertionError("a sealed secret opened under another row's associated data")
