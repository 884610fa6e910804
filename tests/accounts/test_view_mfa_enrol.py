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
