"""ACC6: the practice's privacy officer sees sign-ins and MFA changes of its own staff only."""

from django.urls import reverse

from confide.accounts.models import SecurityEventKind
from confide.accounts.services import record_security_event
from confide.core.permissions import Role


def test_privacy_officer_sees_members_sign_ins_but_not_other_practices(signed_in, world):
    record_security_event(SecurityEventKind.SIGNIN_FAILED, user=world.a.user(Role.BILLING))
    record_security_event(SecurityEventKind.SIGNIN_FAILED, user=world.b.user(Role.BILLING))
    record_security_event(SecurityEventKind.ROLE_CHANGED, user=world.b.owner, practice_id=world.b.practice.id)
    page = signed_in(Role.PRIVACY_OFFICER).get(reverse("accounts:security-events")).content.decode()
    assert "Billing A" in page
    assert "Billing B" not in page and "Owner B" not in page


def test_front_desk_cannot_see_security_events(signed_in):
    assert signed_in(Role.FRONT_DESK).get(reverse("accounts:security-events")).status_code == 403
