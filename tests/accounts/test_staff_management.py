"""ACC1, ACC3, ACC6: owners manage their staff — the list (role, MFA status, last sign-in, state),
inviting from the page, withdrawing and resending, and ending a member's access: the membership
deactivated, their sessions in the practice ended at once, audited; never the last owner."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from confide.accounts.models import Invitation, Membership
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.conftest import sign_in
from tests.factories import MembershipFactory, UserFactory
from tests.security.routes_helpers import snapshot


def _membership(pw, role) -> Membership:
    with tenant_context(practice_id=pw.practice.id):
        return Membership.objects.get(id=pw.memberships[role].id)


def test_acc1_the_staff_list_shows_role_mfa_status_last_sign_in_and_state(world):
    newcomer = UserFactory(email="no.mfa@a.example.test", display_name="Ned Nomfa")
    with tenant_context(practice_id=world.a.practice.id):
        MembershipFactory(user=newcomer, practice=world.a.practice, role=Role.FRONT_DESK)
    clinician = world.a.user(Role.BILLING)
    clinician.last_login = timezone.now()
    clinician.save(update_fields=["last_login"])
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    body = owner.get(reverse("accounts:staff-list")).content.decode()
    row = body.split('data-testid="member-no.mfa@a.example.test"')[1].split("</tr>")[0]
    assert "Ned Nomfa" in row and "Front desk" in row and "Not set up" in row and "Never" in row and "Active" in row
    billing_row = body.split(f'data-testid="member-{clinician.email}"')[1].split("</tr>")[0]
    assert "Set up" in billing_row and "Not set up" not in billing_row and "Never" not in billing_row
    assert 'role="region" tabindex="0"' in body


def test_acc1_an_owner_invites_from_the_staff_page_and_the_invitation_is_listed(world, django_capture_on_commit_callbacks):
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(reverse("accounts:staff-invite"), {"email": "Casey.New@Example.test", "role": "billing"})
    assert response.status_code == 302
    assert mail.outbox[0].to == ["casey.new@example.test"]
    body = owner.get(reverse("accounts:staff-list")).content.decode()
    row = body.split('data-testid="invitation-casey.new@example.test"')[1].split("</tr>")[0]
    assert "Billing" in row and "Owner A" in row and "Send again" in row and "Withdraw" in row


def test_a_bad_invitation_on_the_page_shows_the_errors_and_writes_nothing(world):
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    before = snapshot()
    response = owner.post(reverse("accounts:staff-invite"), {"email": "nope", "role": "root"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid email address" in body and "Select a valid choice" in body
    assert snapshot() == before


def test_the_privacy_officer_sees_the_list_but_no_management(world):
    officer = sign_in(Client(), world.a.user(Role.PRIVACY_OFFICER), world.a.practice)
    body = officer.get(reverse("accounts:staff-list")).content.decode()
    assert "Invite someone" not in body and "Remove access" not in body
    assert officer.post(reverse("accounts:staff-invite"), {"email": "x@example.test", "role": "owner"}).status_code == 403


def test_acc6_removing_a_member_ends_their_sessions_at_once_and_is_audited(world):
    target = _membership(world.a, Role.FRONT_DESK)
    theirs = sign_in(Client(), target.user, world.a.practice)
    elsewhere = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)  # someone else's session stays
    assert theirs.get(reverse("core:dashboard")).status_code == 200
    owner = sign_in(Client(), world.a.owner, world.a.practice)

    response = owner.post(reverse("accounts:staff-deactivate", args=[target.id]), follow=True)
    assert "no longer has access" in response.content.decode()
    assert _membership(world.a, Role.FRONT_DESK).is_active is False
    assert not Session.objects.filter(session_key=theirs.session.session_key).exists()
    after = theirs.get(reverse("core:dashboard"))
    assert after.status_code == 302 and after["Location"].startswith(reverse("accounts:login"))
    assert elsewhere.get(reverse("core:dashboard")).status_code == 200
    entry = AuditEntry.objects.get(event=AuditEvent.MEMBER_DEACTIVATED)
    assert entry.practice_id == world.a.practice.id and entry.actor_id == str(world.a.owner.pk)
    assert entry.detail == {"membership_id": str(target.id), "role": "front_desk", "sessions_ended": 1, "user_id": str(target.user.pk)}
    body = owner.get(reverse("accounts:staff-list")).content.decode()
    assert "Access ended" in body.split(f'data-testid="member-{target.user.email}"')[1].split("</tr>")[0]


def test_removing_a_member_of_two_practices_ends_only_their_sessions_in_this_one(world):
    person = world.b.user(Role.BILLING)
    with tenant_context(practice_id=world.a.practice.id):
        membership = MembershipFactory(user=person, practice=world.a.practice, role=Role.FRONT_DESK)
    in_a = sign_in(Client(), person, world.a.practice)
    in_b = sign_in(Client(), person, world.b.practice)
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    owner.post(reverse("accounts:staff-deactivate", args=[membership.id]))
    assert not Session.objects.filter(session_key=in_a.session.session_key).exists()
    assert in_b.get(reverse("core:dashboard")).status_code == 200


def test_an_owner_cannot_remove_themselves(world):
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    before = snapshot()
    response = owner.post(reverse("accounts:staff-deactivate", args=[world.a.memberships[Role.OWNER].id]), follow=True)
    assert "cannot remove yourself" in response.content.decode()
    assert snapshot() == before


def test_the_last_owner_is_never_removed_even_by_a_request_that_raced_a_demotion(world):
    """Two owners removing each other at once: the owners' rows are locked and re-read, so the
    second removal finds no other owner left. Here the first owner was demoted meanwhile (the
    actor loaded before that still says owner)."""
    import pytest

    from confide.accounts.staff import check_deactivate_member
    from confide.core.actors import StaffActor
    from confide.core.errors import InvalidInput

    second = UserFactory(email="second.owner@a.example.test")
    with tenant_context(practice_id=world.a.practice.id):
        other_owner = MembershipFactory(user=second, practice=world.a.practice, role=Role.OWNER)
        stale = StaffActor.from_membership(Membership.objects.get(id=world.a.memberships[Role.OWNER].id))
        Membership.objects.filter(id=stale.membership_id).update(role=Role.CLINICIAN)
        before = snapshot()
        with pytest.raises(InvalidInput, match="at least one owner"):
            check_deactivate_member(actor=stale, membership_id=other_owner.id)
        assert snapshot() == before


def test_withdraw_and_send_again_from_the_page(world, django_capture_on_commit_callbacks):
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(reverse("accounts:staff-invite"), {"email": "casey@example.test", "role": "billing"})
    with tenant_context(practice_id=world.a.practice.id):
        invitation = Invitation.objects.get(email="casey@example.test")
    old_hash = invitation.token_hash
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(reverse("accounts:invitation-resend", args=[invitation.id]), follow=True)
    assert "earlier link no longer works" in response.content.decode()
    assert len(mail.outbox) == 2
    response = owner.post(reverse("accounts:invitation-revoke", args=[invitation.id]), follow=True)
    assert "Invitation withdrawn" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        invitation.refresh_from_db()
    assert invitation.token_hash != old_hash and invitation.revoked_at is not None
    assert 'data-testid="invitation-casey@example.test"' not in response.content.decode()
    again = owner.post(reverse("accounts:invitation-revoke", args=[invitation.id]), follow=True)
    assert "already accepted or withdrawn" in again.content.decode()
