"""One user, several practices: switch between them; removal mid-session is noticed at once."""

from django.urls import reverse

from confide.accounts.models import Membership
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.conftest import sign_in
from tests.factories import MembershipFactory


def _also_member_of_b(world, user, role=Role.CLINICIAN):
    with tenant_context(practice_id=world.b.practice.id):
        return MembershipFactory(user=user, practice=world.b.practice, role=role)


def test_a_member_of_two_practices_switches_between_them(client, world):
    owner = world.a.owner
    _also_member_of_b(world, owner)
    sign_in(client, owner, world.a.practice)
    assert b"Practice A" in client.get("/").content
    response = client.post(reverse("accounts:switch-practice"), {"practice_id": str(world.b.practice.id)}, follow=True)
    assert b"You are now working in Practice B" in response.content
    # In B the user is a clinician: B's staff page is not theirs.
    assert client.get(reverse("accounts:staff-list")).status_code == 403
    switched = AuditEntry.objects.get(event=AuditEvent.PRACTICE_SWITCHED)
    assert (switched.chain, switched.practice_id, switched.actor_id) == (str(world.b.practice.id), world.b.practice.id, str(owner.pk))


def test_switching_to_a_practice_you_are_not_in_is_refused(signed_in, world):
    client = signed_in(Role.OWNER)
    response = client.post(reverse("accounts:switch-practice"), {"practice_id": str(world.b.practice.id)}, follow=True)
    assert b"not a member of that practice" in response.content
    assert client.session["confide_practice_id"] == str(world.a.practice.id)
    garbage = client.post(reverse("accounts:switch-practice"), {"practice_id": "not-a-uuid"}, follow=True)
    assert garbage.status_code == 200 and b"not a member of that practice" in garbage.content


def test_a_user_removed_mid_session_loses_access_on_the_next_request(signed_in, world):
    client = signed_in(Role.FRONT_DESK)
    assert client.get("/").status_code == 200
    with tenant_context(practice_id=world.a.practice.id):
        Membership.objects.filter(id=world.a.memberships[Role.FRONT_DESK].id).update(is_active=False)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:select-practice")
    assert b"You no longer have access to that practice" in response.content
    assert b"not a member of any practice" in response.content
    revoked = AuditEntry.objects.get(event=AuditEvent.ACCESS_REVOKED_MID_SESSION)
    assert (revoked.chain, revoked.detail) == (str(world.a.practice.id), {"user_id": str(world.a.user(Role.FRONT_DESK).pk)})


def test_staff_page_lists_only_this_practices_members(signed_in, world):
    client = signed_in(Role.OWNER)
    page = client.get(reverse("accounts:staff-list")).content.decode()
    assert "owner@a.example.test" in page
    assert "owner@b.example.test" not in page
