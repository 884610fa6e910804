"""ACC2: staff who can see PHI must enrol before reaching anything; the practice may opt out."""

import base64
import re
import time

from django.urls import reverse
from django_otp.oath import TOTP

from confide.accounts.models import RecoveryCodeDevice, TOTPDevice
from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, UserFactory


def _new_member(practice, role=Role.CLINICIAN):
    from confide.core.tenancy import tenant_context

    user = UserFactory(email="new@a.example.test")
    with tenant_context(practice_id=practice.id):
        MembershipFactory(user=user, practice=practice, role=role)
    return user


def _secret_from(page: bytes) -> bytes:
    secret = re.search(rb'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(b" ", b"")
    return base64.b32decode(secret)


def test_acc2_new_staff_must_enrol_before_the_dashboard(client, world):
    user = _new_member(world.a.practice)
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:mfa-enrol")
    assert client.get("/").status_code == 302
    key = _secret_from(response.content)
    # The pending secret is stored sealed, and the page shows the same one on reload.
    assert _secret_from(client.get(reverse("accounts:mfa-enrol")).content) == key
    totp = TOTP(key, 30, 0, 6, 0)
    totp.time = time.time()
    done = client.post(reverse("accounts:mfa-enrol"), {"token": f"{totp.token():06d}"})
    assert done.status_code == 200
    codes = re.findall(rb"<li class=\"col\">([a-z0-9-]{11})</li>", done.content)
    assert len(codes) == 10
    assert client.get("/").status_code == 200
    assert TOTPDevice.objects.get(user=user).confirmed
    assert RecoveryCodeDevice.objects.get(user=user).remaining() == 10
    enrolled = AuditEntry.objects.get(event=AuditEvent.MFA_ENROLLED)
    assert (enrolled.chain, enrolled.actor_id, enrolled.detail) == (PLATFORM_CHAIN, str(user.pk), {"user_id": str(user.pk)})


def test_a_wrong_enrolment_code_changes_nothing(client, world):
    user = _new_member(world.a.practice)
    client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    client.get(reverse("accounts:mfa-enrol"))
    response = client.post(reverse("accounts:mfa-enrol"), {"token": "12345"})
    assert response.status_code == 400 and b"Enter the 6 digits" in response.content
    response = client.post(reverse("accounts:mfa-enrol"), {"token": "000000"})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert not RecoveryCodeDevice.objects.filter(user=user).exists()


def test_a_practice_that_does_not_require_mfa_lets_new_staff_in(client, world):
    world.a.practice.mfa_required = False
    world.a.practice.save()
    user = _new_member(world.a.practice)
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"


def _code_for(key: bytes) -> str:
    totp = TOTP(key, 30, 0, 6, 0)
    totp.time = time.time()
    return f"{totp.token():06d}"


def _password_only(user):
    from django.test import Client

    client = Client()
    assert client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD}).status_code == 302
    return client


def _enrol_page_secret(client) -> bytes:
    page = client.get(reverse("accounts:mfa-enrol"))
    assert page.status_code == 200
    return _secret_from(page.content)


def _assert_told_replaced(response):
    assert response.status_code == 400
    assert b'data-testid="enrol-replaced"' in response.content and b"another sign-in" in response.content
    assert b'data-testid="totp-secret"' not in response.content  # no new secret in that answer


def test_acc2_a_pending_secret_belongs_to_the_session_that_was_shown_it(world):
    """Issue 11 item 3: someone with only the password opens the set-up page; the real user, in
    their own session, is shown another secret and confirms it; the first secret is worthless."""
    user = _new_member(world.a.practice)
    attacker, owner_of_account = _password_only(user), _password_only(user)
    seen_by_attacker = _enrol_page_secret(attacker)
    shown_to_user = _enrol_page_secret(owner_of_account)
    assert shown_to_user != seen_by_attacker
    assert _enrol_page_secret(owner_of_account) == shown_to_user  # a reload keeps the session's own

    _assert_told_replaced(attacker.post(reverse("accounts:mfa-enrol"), {"token": _code_for(seen_by_attacker)}))
    assert owner_of_account.post(reverse("accounts:mfa-enrol"), {"token": _code_for(shown_to_user)}).status_code == 200
    assert TOTPDevice.objects.get(user=user).bin_key == shown_to_user
    # The attacker's session must now pass the code step with the user's authenticator, and cannot.
    assert attacker.get("/").status_code == 302
    assert attacker.post(reverse("accounts:mfa-verify"), {"token": _code_for(seen_by_attacker)}).status_code == 400
    assert attacker.get("/").status_code == 302
    replaced = AuditEntry.objects.get(event=AuditEvent.MFA_FAILED, detail__replaced=True)
    assert replaced.detail == {"stage": "enrol", "replaced": True, "user_id": str(user.pk)}


def test_acc2_after_an_owner_reset_a_secret_seen_by_another_session_cannot_be_confirmed(world, signed_in):
    user = world.a.user(Role.CLINICIAN)
    owner = signed_in(Role.OWNER)
    membership = world.a.memberships[Role.CLINICIAN]
    assert owner.post(reverse("accounts:staff-reset-mfa", args=[membership.id])).status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()

    attacker, member = _password_only(user), _password_only(user)
    seen_by_attacker = _enrol_page_secret(attacker)
    shown_to_member = _enrol_page_secret(member)
    assert shown_to_member != seen_by_attacker
    _assert_told_replaced(attacker.post(reverse("accounts:mfa-enrol"), {"token": _code_for(seen_by_attacker)}))
    assert member.post(reverse("accounts:mfa-enrol"), {"token": _code_for(shown_to_member)}).status_code == 200


def test_acc2_replacing_ones_authenticator_shows_a_secret_no_other_session_holds(world, signed_in):
    user = world.a.user(Role.CLINICIAN)
    member = signed_in(Role.CLINICIAN)
    assert member.post(reverse("accounts:mfa-replace")).status_code == 302
    shown_to_member = _enrol_page_secret(member)

    # Without an authenticator the password alone reaches the set-up page: a new secret there
    # replaces the member's, and the member is told so instead of confirming one the other saw.
    attacker = _password_only(user)
    seen_by_attacker = _enrol_page_secret(attacker)
    assert seen_by_attacker != shown_to_member
    _assert_told_replaced(member.post(reverse("accounts:mfa-enrol"), {"token": _code_for(shown_to_member)}))
    shown_again = _enrol_page_secret(member)
    assert shown_again not in (shown_to_member, seen_by_attacker)
    assert member.post(reverse("accounts:mfa-enrol"), {"token": _code_for(shown_again)}).status_code == 200
    # Set up now: the other session is sent to the code step, its secret confirms nothing.
    late = attacker.post(reverse("accounts:mfa-enrol"), {"token": _code_for(seen_by_attacker)})
    assert (late.status_code, late["Location"]) == (302, reverse("accounts:mfa-verify"))
    assert TOTPDevice.objects.get(user=user, confirmed=True).bin_key == shown_again
