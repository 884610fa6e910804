"""Sign-in: password step (ACC1), then the MFA step (ACC2); failures are recorded (ACC6)."""

from django.contrib.auth.hashers import identify_hasher
from django.urls import reverse

from confide.accounts.services import identifier_hash
from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.conftest import CANARIES, PASSWORD


def test_acc1_passwords_are_stored_as_argon2_hashes(world):
    user = world.a.user(Role.CLINICIAN)
    assert identify_hasher(user.password).algorithm == "argon2"
    assert PASSWORD not in user.password


def test_acc1_production_settings_hash_passwords_with_argon2id_at_full_cost(db):
    """The test settings swap in a cheap Argon2 (tests/settings.py), so the test above cannot see
    what production does: this one reads the production settings module and stores a password
    the way production would."""
    import confide.settings as production
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
    from django.test import override_settings

    from confide.accounts.models import User

    assert production.PASSWORD_HASHERS == ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        assert type(get_hasher()) is Argon2PasswordHasher
        user = User.objects.create_user(email="hash@a.example.test", password=PASSWORD, display_name="Hash")
        stored = User.objects.get(pk=user.pk).password
        assert stored.startswith("argon2$argon2id$v=19$")
        params = get_hasher().decode(stored)
        # Django's own cost (100 MiB, 2 passes; OWASP's floor is 19 MiB, 2 passes), not the test one.
        assert params["memory_cost"] >= 102400 and params["time_cost"] >= 2, params
        assert PASSWORD not in stored
        assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_right_password_leads_to_the_code_step_not_the_dashboard(client, world):
    response = client.post(reverse("accounts:login"), {"username": "owner@a.example.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:mfa-verify"))
    # Not verified yet: the dashboard sends the user back to the code step.
    dashboard = client.get(reverse("core:dashboard"))
    assert dashboard.status_code == 302
    assert dashboard["Location"].startswith(reverse("accounts:mfa-verify"))
    signed_in = AuditEntry.objects.get(event=AuditEvent.SIGNIN_SUCCEEDED)
    owner_id = str(world.a.owner.pk)
    assert (signed_in.chain, signed_in.actor_kind, signed_in.actor_id, signed_in.detail) == (PLATFORM_CHAIN, "user", owner_id, {"user_id": owner_id})


def test_email_is_case_insensitive(client, world):
    response = client.post(reverse("accounts:login"), {"username": "OWNER@A.example.test", "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_gives_a_clear_message_and_records_only_a_hash(client, world):
    response = client.post(reverse("accounts:login"), {"username": CANARIES["email"], "password": "wrong-password-123"})
    assert response.status_code == 200
    assert b"did not match an account" in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEntry.objects.get(event=AuditEvent.SIGNIN_FAILED)
    assert event.chain == PLATFORM_CHAIN and event.actor_kind == "anonymous"
    assert event.detail == {"user_id": str(world.a.user(Role.CLINICIAN).pk), "identifier_hash": identifier_hash(CANARIES["email"])}
    assert CANARIES["email"] not in str(event.detail)


def test_unknown_email_fails_the_same_way(client, world):
    response = client.post(reverse("accounts:login"), {"username": "nobody@example.test", "password": PASSWORD})
    assert response.status_code == 200
    assert b"did not match an account" in response.content
    assert AuditEntry.objects.get(event=AuditEvent.SIGNIN_FAILED).detail == {"identifier_hash": identifier_hash("nobody@example.test")}


def test_malformed_email_is_rejected_with_a_field_message(client, world):
    response = client.post(reverse("accounts:login"), {"username": "not-an-email", "password": "x"})
    assert response.status_code == 200
    assert b"Enter a valid email address" in response.content
