"""ACC5: invitations to the patient portal — a hashed, single-use, expiring link bound to one
record; a new person chooses a password (the same validators, Argon2) and gets a portal account
with a link of the invitation's kind; a closed account is reopened; audited with ids only."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from django.core import mail
from django.utils import timezone

from confide.accounts import portal_invitations as invites
from confide.accounts.models import LinkKind, PortalInvitation, PortalLink, User, UserKind
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from tests.portal_world import create_patient, make_portal_user, portal_world, years_ago
from tests.security.routes_helpers import snapshot

NEW_PASSWORD = "Plum-Kettle-Harbour-42"
LINK = re.compile(r"(https?://\S+/portal/invitation/\?token=(\S+))")


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


@pytest.fixture
def portal(world):
    return portal_world(world.a)


def issue(pw, patient, email="pat@example.test", **kw):
    mail.outbox.clear()
    with tenant_context(practice_id=pw.practice.id), _capture(execute=True):
        invitation, link = invites.issue_portal_invitation(
            practice_id=pw.practice.id, patient_id=patient.pk, email=email, invited_by_id=pw.owner.pk, **kw
        )
    return invitation, link


def token_of(link: str) -> str:
    return LINK.search(link).group(2)


def reference(link: str) -> dict:
    return invites.session_reference(token_of(link))


def test_acc5_an_invitation_keeps_only_the_hash_and_mails_the_same_link_it_returns(world, settings):
    settings.CONFIDE_BASE_URL = "http://127.0.0.1:8123"
    patient = create_patient(world.a)
    invitation, link = issue(world.a, patient)
    token = token_of(link)
    assert link.startswith("http://127.0.0.1:8123/portal/invitation/?token=")
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body and mail.outbox[0].to == ["pat@example.test"]
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(list(PortalInvitation.across_practices.values()))
    assert invitation.kind == LinkKind.SELF and invitation.patient_id == patient.pk
    assert datetime.timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= datetime.timedelta(days=7)
    entry = AuditEntry.objects.get(event=AuditEvent.PORTAL_INVITATION_SENT)
    assert entry.practice_id == world.a.practice.id and entry.actor_id == str(world.a.owner.pk)
    assert "pat@" not in repr(entry.detail) and entry.detail["invitation_id"] == str(invitation.id)


def test_the_expiry_in_days_is_a_setting(world, settings):
    settings.CONFIDE_PORTAL_INVITE_DAYS = 2
    invitation, _ = issue(world.a, create_patient(world.a))
    assert datetime.timedelta(days=1) < invitation.expires_at - timezone.now() <= datetime.timedelta(days=2)


def test_a_new_invitation_replaces_the_open_one_for_the_same_record_and_address(world):
    patient = create_patient(world.a)
    first, first_link = issue(world.a, patient)
    second, _ = issue(world.a, patient, email="PAT@example.test")
    with tenant_context(practice_id=world.a.practice.id):
        first.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.get_open_portal_invitation(reference(first_link))
    assert exc.value.reason == "revoked"


def test_the_system_may_invite_with_no_inviter(world):
    patient = create_patient(world.a)
    with tenant_context(practice_id=world.a.practice.id):
        invitation, _ = invites.issue_portal_invitation(practice_id=world.a.practice.id, patient_id=patient.pk, email="x@example.test")
    assert invitation.created_by is None
    assert AuditEntry.objects.get(event=AuditEvent.PORTAL_INVITATION_SENT).actor_kind == "system"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"email": "not-an-address"}, "valid e-mail"),
        ({"kind": "boss"}, "whose access"),
        ({"kind": LinkKind.REPRESENTATIVE, "relationship": "mother"}, "checked this person"),
        ({"kind": LinkKind.REPRESENTATIVE, "relationship": "", "verified_by_id": 1}, "related"),
        ({"kind": LinkKind.REPRESENTATIVE, "relationship": "mo\nther", "verified_by_id": 1}, "one line"),
    ],
)
def test_a_bad_invitation_is_refused_and_nothing_is_written(world, kw, message):
    patient = create_patient(world.a)
    before = snapshot()
    args = {"email": "pat@example.test"} | kw
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput, match=message):
        invites.issue_portal_invitation(practice_id=world.a.practice.id, patient_id=patient.pk, **args)
    assert snapshot() == before and mail.outbox == []


def test_acc5_a_new_person_gets_a_portal_account_and_a_self_link(world):
    patient = create_patient(world.a)
    invitation, link = issue(world.a, patient)
    user, portal_link = invites.check_accept_portal_invitation(
        reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="Pat"
    )
    assert user.kind == UserKind.PATIENT and user.email == "pat@example.test" and user.is_active
    assert user.password.startswith("argon2")
    assert (portal_link.patient_id, portal_link.kind, portal_link.is_active) == (patient.pk, LinkKind.SELF, True)
    with tenant_context(practice_id=world.a.practice.id):
        invitation.refresh_from_db()
    assert invitation.used_at is not None and invitation.used_by_id == user.pk
    entry = AuditEntry.objects.get(event=AuditEvent.PORTAL_INVITATION_ACCEPTED)
    assert entry.actor_kind == "patient" and entry.actor_id == str(user.pk)
    assert entry.detail["account"] == "new" and entry.detail["link_id"] == str(portal_link.id)


def test_a_weak_password_is_refused_with_every_problem_and_nothing_is_written(world):
    _, link = issue(world.a, create_patient(world.a))
    before = snapshot()
    with pytest.raises(InvalidInput) as exc:
        invites.check_accept_portal_invitation(reference=reference(link), password="short", password_again="other", display_name="")
    assert set(exc.value.errors) == {"display_name", "password", "password_again"}
    assert snapshot() == before


def test_acc5_an_invitation_is_single_use(world):
    _, link = issue(world.a, create_patient(world.a))
    invites.check_accept_portal_invitation(reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="Pat")
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.check_accept_portal_invitation(reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="Pat")
    assert exc.value.reason == "used"


def test_an_expired_invitation_is_refused(world, clock):
    _, link = issue(world.a, create_patient(world.a))
    clock.shift(datetime.timedelta(days=8))
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.get_open_portal_invitation(reference(link))
    assert exc.value.reason == "expired"


def test_a_representative_invitation_links_the_guardian_with_the_recorded_basis(world):
    child = create_patient(world.a, date_of_birth=years_ago(9))
    _, link = issue(
        world.a, child, email="mum@example.test", kind=LinkKind.REPRESENTATIVE, relationship="mother",
        verified_by_id=world.a.owner.pk, basis="birth-certificate",
    )
    user, portal_link = invites.check_accept_portal_invitation(
        reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="Mum"
    )
    assert (portal_link.kind, portal_link.relationship, portal_link.verified_by_id) == (LinkKind.REPRESENTATIVE, "mother", world.a.owner.pk)


def test_a_signed_in_parent_adds_a_child_after_confirming_the_password(world, portal):
    from tests.conftest import PASSWORD

    child = create_patient(world.a, date_of_birth=years_ago(5))
    _, link = issue(world.a, child, email=portal.parent.user.email, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by_id=world.a.owner.pk)
    with pytest.raises(InvalidInput, match="not right"):
        invites.check_accept_portal_invitation(reference=reference(link), user=portal.parent.user, password="wrong")
    user, portal_link = invites.check_accept_portal_invitation(reference=reference(link), user=portal.parent.user, password=PASSWORD)
    assert user == portal.parent.user and portal_link.patient_id == child.pk
    assert AuditEntry.objects.get(event=AuditEvent.PORTAL_INVITATION_ACCEPTED).detail["account"] == "existing"


def test_an_account_already_linked_to_the_record_is_refused(world, portal):
    from tests.conftest import PASSWORD

    _, link = issue(world.a, portal.adult.patient, email=portal.adult.user.email)
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.check_accept_portal_invitation(reference=reference(link), user=portal.adult.user, password=PASSWORD)
    assert exc.value.reason == "already-linked"
    with tenant_context(practice_id=world.a.practice.id):
        assert PortalInvitation.objects.get().used_at is None  # rolled back with the refusal


def test_an_address_of_a_staff_account_is_refused(world):
    _, link = issue(world.a, create_patient(world.a), email=world.a.owner.email)
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.check_accept_portal_invitation(reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="X")
    assert exc.value.reason == "staff-address"


def test_acc5_a_closed_account_invited_again_is_reopened_with_the_new_password(world):
    patient = create_patient(world.a)
    closed = make_portal_user("back@example.test")
    User.objects.filter(pk=closed.pk).update(is_active=False)
    _, link = issue(world.a, patient, email="back@example.test")
    assert invites.get_open_portal_invitation(reference(link)).account == "inactive"
    user, portal_link = invites.check_accept_portal_invitation(
        reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="Back Again"
    )
    user.refresh_from_db()
    assert user.pk == closed.pk and user.is_active and user.check_password(NEW_PASSWORD)
    assert portal_link.kind == LinkKind.SELF and portal_link.is_active
    assert AuditEntry.objects.get(event=AuditEvent.PORTAL_INVITATION_ACCEPTED).detail["account"] == "reactivated"


def test_a_record_someone_else_holds_is_refused(world, portal):
    _, link = issue(world.a, portal.adult.patient, email="impostor@example.test")
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.check_accept_portal_invitation(reference=reference(link), password=NEW_PASSWORD, password_again=NEW_PASSWORD, display_name="X")
    assert exc.value.reason == "record-taken"
    assert not User.objects.filter(email="impostor@example.test").exists()
    with tenant_context(practice_id=world.a.practice.id):
        assert PortalLink.objects.filter(patient_id=portal.adult.patient.pk).count() == 1


@pytest.mark.parametrize("garbled", [None, {}, {"practice": "x", "hash": "y"}, {"practice": "0" * 32, "hash": "a" * 64}])
def test_a_garbled_reference_is_unknown(world, garbled):
    with pytest.raises(invites.PortalInvitationUnusable) as exc:
        invites.get_open_portal_invitation(garbled)
    assert exc.value.reason == "unknown"
