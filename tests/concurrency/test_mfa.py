"""ACC2, ACC6: a second factor is single-use under parallel requests, and a pending
authenticator secret belongs to the one session that was shown it.

Each thread is its own browser session of one user who has passed the password step (the MFA
step still pending) and posts through the real views; afterwards the scenario reads the
database and the audit log, and the parent asserts the final state."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

SESSIONS = 8


def _password_only_client(user):
    """A session that has passed the password step only: the MFA step is still to come."""
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _events(user, event) -> int:
    from confide.audit.models import AuditEntry

    return AuditEntry.objects.filter(event=event, detail__user_id=str(user.pk)).count()


def scenario_one_totp_code_from_many_sessions(params):
    from django.urls import reverse

    from confide.accounts.models import TOTPDevice
    from confide.audit.events import AuditEvent
    from confide.core.permissions import Role

    world = new_world("totp")
    user = world.user(Role.CLINICIAN)
    clients = [_password_only_client(user) for _ in range(params["n"])]
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    code = device.current_code()
    url = reverse("accounts:mfa-verify")

    outcomes = concurrently(params["n"], lambda i: clients[i].post(url, {"token": code, "next": "/"}).status_code)
    # A session that got in reaches the dashboard; one that did not is sent back to the code step.
    dashboard = [clients[o.index].get("/").status_code for o in outcomes]
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "dashboard": sorted(dashboard),
        "verified_events": _events(user, AuditEvent.MFA_VERIFIED),
        "failed_events": _events(user, AuditEvent.MFA_FAILED),
    }


def test_acc2_one_totp_code_posted_by_eight_sessions_at_once_lets_exactly_one_in(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_totp_code_from_many_sessions, n=SESSIONS)
    assert result["errors"] == []
    assert result["statuses"] == ["302"] + ["400"] * (SESSIONS - 1)
    assert result["dashboard"] == [200] + [302] * (SESSIONS - 1)
    assert (result["verified_events"], result["failed_events"]) == (1, SESSIONS - 1)


def scenario_one_recovery_code_from_many_requests(params):
    from django.urls import reverse

    from confide.accounts.models import RecoveryCode, RecoveryCodeDevice
    from confide.audit.events import AuditEvent
    from confide.core.permissions import Role

    world = new_world("recovery")
    user = world.user(Role.BILLING)
    codes = RecoveryCodeDevice.objects.get(user=user).regenerate()
    clients = [_password_only_client(user) for _ in range(params["n"])]
    url = reverse("accounts:mfa-verify")

    outcomes = concurrently(params["n"], lambda i: clients[i].post(url, {"token": codes[0], "next": "/"}).status_code)
    device = RecoveryCodeDevice.objects.get(user=user)
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "remaining": device.remaining(),
        "code_still_stored": RecoveryCode.objects.filter(device=device, code_hash=_recovery_hash(codes[0])).exists(),
        "used_events": _events(user, AuditEvent.MFA_RECOVERY_CODE_USED),
    }


def _recovery_hash(code: str) -> str:
    from confide.accounts.models import _hash_recovery_code

    return _hash_recovery_code(code)


def test_acc2_one_recovery_code_sent_eight_times_at_once_is_accepted_exactly_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_recovery_code_from_many_requests, n=SESSIONS)
    assert result["errors"] == []
    assert result["statuses"] == ["302"] + ["400"] * (SESSIONS - 1)
    assert (result["remaining"], result["code_still_stored"], result["used_events"]) == (9, False, 1)


def scenario_many_sessions_enrol_at_once(params):
    """The user's authenticator was reset; several sessions signed in with the password open the
    set-up page at the same moment, then each confirms with a code from the secret it was shown."""
    import base64
    import re
    import time

    from django.urls import reverse
    from django_otp.oath import TOTP

    from confide.accounts.models import RecoveryCodeDevice, TOTPDevice
    from confide.audit.events import AuditEvent
    from confide.core.permissions import Role

    world = new_world("enrol")
    user = world.user(Role.CLINICIAN)
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCodeDevice.objects.filter(user=user).delete()
    clients = [_password_only_client(user) for _ in range(params["n"])]
    url = reverse("accounts:mfa-enrol")

    def shown_secret(i: int) -> str:
        page = clients[i].get(url)
        assert page.status_code == 200, page.status_code
        return re.search(rb'data-testid="totp-secret">([A-Z2-7 ]+)<', page.content).group(1).replace(b" ", b"").decode()

    secrets = [o.value for o in concurrently(params["n"], shown_secret)]

    def confirm(i: int) -> str:
        totp = TOTP(base64.b32decode(secrets[i]), 30, 0, 6, 0)
        totp.time = time.time()
        response = clients[i].post(url, {"token": f"{totp.token():06d}"})
        if response.status_code == 302:  # someone else finished first: this session must verify
            return f"302 {response['Location']}"
        replaced = b'data-testid="enrol-replaced"' in response.content
        return f"{response.status_code}{' replaced' if replaced else ''}"

    outcomes = concurrently(params["n"], confirm)
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True)
    confirmed_secret = base64.b32encode(confirmed.get().bin_key).decode() if confirmed.count() == 1 else None
    return {
        "secrets_shown": secrets,
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "winners": [o.index for o in outcomes if o.value == "200"],
        "confirmed_devices": confirmed.count(),
        "confirmed_secret": confirmed_secret,
        "pending_left": TOTPDevice.objects.filter(user=user, confirmed=False).count(),
        "enrolled_events": _events(user, AuditEvent.MFA_ENROLLED),
    }


def test_acc2_sessions_enrolling_at_once_are_each_shown_their_own_secret_and_one_confirms(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_many_sessions_enrol_at_once, n=SESSIONS)
    assert result["errors"] == []
    shown = result["secrets_shown"]
    # No secret is ever shown to two sessions: one who read a secret cannot pass with the other's.
    assert len(set(shown)) == SESSIONS
    # The last session to open the page holds the only pending secret. Exactly one confirms, with
    # the secret it alone was shown; every other one is told its secret was replaced (or, once
    # the winner has finished, sent to the code step).
    statuses = result["statuses"]
    assert statuses.count("200") == 1, statuses
    assert set(statuses) - {"200"} <= {"400 replaced", "302 /signin/verify/"}, statuses
    (winner,) = result["winners"]
    assert (result["confirmed_devices"], result["pending_left"], result["enrolled_events"]) == (1, 0, 1)
    assert result["confirmed_secret"] == shown[winner]
