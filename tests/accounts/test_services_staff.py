"""Owners manage roles and reset MFA (ACC2, ACC3): recorded, notified, and never cross-practice."""

import uuid

from django.core import mail
from django.urls import reverse

from confide.accounts.models import Membership, RecoveryCodeDevice, TOTPDevice
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context


def _role_of(world, membership_id):
    with tenant_context(practice_id=world.a.practice.id):
        return Membership.objects.get(id=membership_id).role


def test_owner_changes_a_role_and_it_is_recorded(signed_in, world):
    client = signed_in(Role.OWNER)
    target = world.a.memberships[Role.FRONT_DESK]
    response = client.post(reverse("accounts:staff-change-role", args=[target.id]), {"role": "billing"}, follow=True)
    assert b"Role updated" in response.content
    assert _role_of(world, target.id) == Role.BILLING
    event = AuditEntry.objects.get(event=AuditEvent.ROLE_CHANGED)
    assert (event.chain, event.practice_id) == (str(world.a.practice.id), world.a.practice.id)
    assert (event.actor_kind, event.actor_id, event.actor_role) == ("user", str(world.a.owner.pk), "owner")
    assert event.detail == {"membership_id": str(target.id), "from": "front_desk", "to": "billing", "user_id": str(target.user.pk)}


def test_an_unknown_role_changes_nothing(signed_in, world):
    client = signed_in(Role.OWNER)
    target = world.a.memberships[Role.FRONT_DESK]
    response = client.post(reverse("accounts:staff-change-role", args=[target.id]), {"role": "superuser"}, follow=True)
    assert b"Choose one of the listed roles" in response.content
    assert _role_of(world, target.id) == Role.FRONT_DESK
    assert not AuditEntry.objects.filter(event=AuditEvent.ROLE_CHANGED).exists()


def test_the_last_owner_cannot_be_demoted(signed_in, world):
    client = signed_in(Role.OWNER)
    own = world.a.memberships[Role.OWNER]
    response = client.post(reverse("accounts:staff-change-role", args=[own.id]), {"role": "clinician"}, follow=True)
    assert b"at least one owner" in response.content
    assert _role_of(world, own.id) == Role.OWNER


def test_another_practices_member_is_not_found(signed_in, world):
    client = signed_in(Role.OWNER, world.b)
    target = world.a.memberships[Role.FRONT_DESK]
    assert client.post(reverse("accounts:staff-change-role", args=[target.id]), {"role": "billing"}).status_code == 404
    assert client.post(reverse("accounts:staff-change-role", args=[uuid.uuid4()]), {"role": "billing"}).status_code == 404
    assert _role_of(world, target.id) == Role.FRONT_DESK


def test_owner_resets_mfa_which_is_recorded_and_emailed(signed_in, world, django_capture_on_commit_callbacks):
    client = signed_in(Role.OWNER)
    target = world.a.memberships[Role.CLINICIAN]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:staff-reset-mfa", args=[target.id]), follow=True)
    assert b"MFA reset" in response.content
    assert not TOTPDevice.objects.filter(user=target.user).exists()
    assert not RecoveryCodeDevice.objects.filter(user=target.user).exists()
    event = AuditEntry.objects.get(event=AuditEvent.MFA_RESET)
    assert (event.chain, event.actor_id, event.actor_role) == (str(world.a.practice.id), str(world.a.owner.pk), "owner")
    assert (event.detail["membership_id"], event.detail["user_id"]) == (str(target.id), str(target.user.pk))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [target.user.email]
    assert "Practice A" in mail.outbox[0].body


def test_after_a_reset_the_member_must_enrol_again(signed_in, world, client):
    from tests.conftest import PASSWORD

    owner_client = signed_in(Role.OWNER)
    target = world.a.memberships[Role.CLINICIAN]
    owner_client.post(reverse("accounts:staff-reset-mfa", args=[target.id]))
    owner_client.logout()
    response = client.post(reverse("accounts:login"), {"username": target.user.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:mfa-enrol")


def test_privacy_officer_sees_staff_but_cannot_change_them(signed_in, world):
    client = signed_in(Role.PRIVACY_OFFICER)
    page = client.get(reverse("accounts:staff-list"))
    assert page.status_code == 200 and b"Change role" not in page.content
    target = world.a.memberships[Role.FRONT_DESK]
    assert client.post(reverse("accounts:staff-change-role", args=[target.id]), {"role": "owner"}).status_code == 403
    assert client.post(reverse("accounts:staff-reset-mfa", args=[target.id])).status_code == 403
    assert _role_of(world, target.id) == Role.FRONT_DESK
