"""ACC6: security events live in the audit log. The practice's privacy officer sees its chain and
the platform-chain sign-ins and MFA changes of its own staff only; each user sees their own."""

from django.urls import reverse

from confide.accounts.services import record_security_event
from confide.audit.chain import PLATFORM_CHAIN
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role


def test_privacy_officer_sees_members_sign_ins_but_not_other_practices(signed_in, world):
    record_security_event(AuditEvent.SIGNIN_FAILED, user=world.a.user(Role.BILLING))
    record_security_event(AuditEvent.SIGNIN_FAILED, user=world.b.user(Role.BILLING))
    record_security_event(AuditEvent.ROLE_CHANGED, user=world.b.owner, practice_id=world.b.practice.id)
    page = signed_in(Role.PRIVACY_OFFICER).get(reverse("accounts:security-events")).content.decode()
    assert "Billing A" in page
    assert "Billing B" not in page and "Owner B" not in page


def test_security_events_are_audit_entries_on_the_right_chain(world):
    """A sign-in-flow event without a practice goes to the platform chain; one tied to a practice
    to that practice's chain. The affected account is an id in detail, the actor the one acting."""
    billing, owner = world.a.user(Role.BILLING), world.a.owner
    failed = record_security_event(AuditEvent.SIGNIN_FAILED, user=billing, identifier="billing@a.example.test")
    changed = record_security_event(AuditEvent.ROLE_CHANGED, user=billing, actor=owner, practice_id=world.a.practice.id)
    assert (failed.chain, failed.actor_kind, failed.detail["user_id"]) == (PLATFORM_CHAIN, "anonymous", str(billing.pk))
    assert len(failed.detail["identifier_hash"]) == 64 and "billing@" not in str(failed.detail)
    assert (changed.chain, changed.actor_id, changed.detail) == (str(world.a.practice.id), str(owner.pk), {"user_id": str(billing.pk)})
    assert AuditEntry.objects.exclude(event=AuditEvent.CHAIN_STARTED).count() == 2  # and the practices' genesis entries


def test_the_page_lists_the_practice_chain_newest_first_and_only_security_events(signed_in, world):
    record_security_event(AuditEvent.ROLE_CHANGED, user=world.a.user(Role.BILLING), actor=world.a.owner, practice_id=world.a.practice.id)
    record_security_event(AuditEvent.PRACTICE_SETTINGS_CHANGED, actor=world.a.owner, practice_id=world.a.practice.id)
    from confide.audit.chain import record

    record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id, actor=world.a.owner)  # not a security event
    page = signed_in(Role.PRIVACY_OFFICER).get(reverse("accounts:security-events")).content.decode()
    assert page.index("Changed practice settings") < page.index("Changed a role")
    assert "Opened the chart" not in page
    assert "Owner A" in page  # who changed the role


def test_my_security_shows_my_own_events_only(signed_in, world):
    me, other = world.a.user(Role.CLINICIAN), world.a.user(Role.BILLING)
    record_security_event(AuditEvent.MFA_RESET, user=me, actor=world.a.owner, practice_id=world.a.practice.id)  # about me
    record_security_event(AuditEvent.SIGNIN_FAILED, user=other)
    record_security_event(AuditEvent.REAUTH_FAILED, user=world.b.owner)
    page = signed_in(Role.CLINICIAN).get(reverse("accounts:security")).content.decode()
    assert "Reset an authenticator" in page and "Owner A" in page
    assert "Failed sign-in" not in page and "Failed to confirm password and code" not in page


def test_front_desk_cannot_see_security_events(signed_in):
    assert signed_in(Role.FRONT_DESK).get(reverse("accounts:security-events")).status_code == 403
