"""ACC1, ACC2: invitations to join a practice — a hashed, single-use, expiring link; a new person
sets a password and must enrol an authenticator; an existing account signs in and joins;
expired, used and withdrawn links are refused with nothing written; audited with ids only."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from confide.accounts import invitations
from confide.accounts.models import Invitation, Membership, User
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.conftest import sign_in
from tests.security.routes_helpers import snapshot

NEW_PASSWORD = "Plum-Kettle-Harbour-42"
LINK = re.compile(r"(https?://\S+/invite/\?token=(\S+))")


def _owner_actor(pw) -> StaffActor:
    return StaffActor.from_membership(pw.memberships[Role.OWNER])


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    """E-mail goes out after commit; the test's transaction never commits, so run those callbacks."""
    global _capture
    _capture = django_capture_on_commit_callbacks


def _invite(pw, email="new.hire@example.test", role=Role.CLINICIAN) -> tuple[Invitation, str]:
    """Invite through the service; (invitation, the token from the e-mail)."""
    mail.outbox.clear()
    with tenant_context(practice_id=pw.practice.id), _capture(execute=True):
        invitation = invitations.do_invite(actor=_owner_actor(pw), email=email, role=role)
    return invitation, _token_from_mail()


def _token_from_mail() -> str:
    assert len(mail.outbox) == 1
    return LINK.search(mail.outbox[-1].body).group(2)


def _open(client: Client, token: str):
    return client.get(reverse("accounts:invitation"), {"token": token})


def _accept_new(client: Client, **overrides):
    data = {"display_name": "Nova Newhire", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD} | overrides
    return client.post(reverse("accounts:invitation-accept"), data)


def _members(pw) -> dict[str, tuple[str, bool]]:
    with tenant_context(practice_id=pw.practice.id):
        return {m.user.email: (m.role, m.is_active) for m in Membership.objects.select_related("user")}


# --- Issuing --------------------------------------------------------------------------------------
def test_acc1_an_invitation_keeps_only_the_hash_of_its_token_and_mails_the_link(world, settings):
    settings.CONFIDE_BASE_URL = "http://127.0.0.1:8123"
    invitation, token = _invite(world.a)
    message = mail.outbox[0]
    assert message.to == ["new.hire@example.test"]
    assert f"http://127.0.0.1:8123/invite/?token={token}" in message.body
    assert "Clinician" in message.body and world.a.practice.name in message.subject
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(list(Invitation.across_practices.values()))
    assert invitation.expires_at - timezone.now() > datetime.timedelta(hours=71)
    entry = AuditEntry.objects.get(event=AuditEvent.INVITATION_SENT)
    assert entry.practice_id == world.a.practice.id
    assert entry.detail == {"invitation_id": str(invitation.id), "role": "clinician"}
    assert "new.hire" not in repr(entry.detail)


def test_the_expiry_is_a_setting(world, settings):
    settings.CONFIDE_INVITATION_HOURS = 5
    invitation, _ = _invite(world.a)
    assert datetime.timedelta(hours=4) < invitation.expires_at - timezone.now() <= datetime.timedelta(hours=5)


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("not-an-address", "clinician", "valid e-mail"),
        ("someone@example.test", "superuser", "listed roles"),
        ("front_desk@a.example.test", "clinician", "already a member"),
    ],
)
def test_a_bad_invitation_is_refused_and_nothing_is_written(world, email, role, message):
    before = snapshot()
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput, match=message):
        invitations.do_invite(actor=_owner_actor(world.a), email=email, role=role)
    assert snapshot() == before
    assert mail.outbox == []


def test_an_address_with_a_waiting_invitation_is_told_to_resend(world):
    _invite(world.a)
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput, match="resend"):
        invitations.do_invite(actor=_owner_actor(world.a), email="NEW.HIRE@example.test", role=Role.BILLING)


# --- The landing page -----------------------------------------------------------------------------
def test_acc1_the_link_moves_the_token_into_the_session_and_out_of_the_address(world):
    _, token = _invite(world.a)
    client = Client()
    response = _open(client, token)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:invitation-accept")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert token not in page.content.decode()
    assert "Join Practice A" in page.content.decode() and "Clinician" in page.content.decode()


@pytest.mark.parametrize("token", ["", "nonsense", "0" * 32 + "." + "x" * 43])
def test_a_malformed_or_unknown_link_gets_a_clear_page(world, token):
    client = Client()
    response = _open(client, token)
    if response.status_code == 302:
        response = client.get(response["Location"])
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


# --- Accepting as a new person --------------------------------------------------------------------
def test_acc2_a_new_person_sets_a_password_and_must_enrol_before_any_staff_page(world):
    invitation, token = _invite(world.a)
    client = Client()
    _open(client, token)
    response = _accept_new(client)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:mfa-enrol")
    user = User.objects.get(email="new.hire@example.test")
    assert user.check_password(NEW_PASSWORD) and user.display_name == "Nova Newhire"
    assert _members(world.a)["new.hire@example.test"] == ("clinician", True)
    with tenant_context(practice_id=world.a.practice.id):
        invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.accepted_by == user
    # No staff page before the authenticator is set up (ACC2).
    for name in ("core:dashboard", "records:patient-list"):
        assert client.get(reverse(name))["Location"] == reverse("accounts:mfa-enrol")
    assert client.get(reverse("accounts:mfa-enrol")).status_code == 200
    entry = AuditEntry.objects.get(event=AuditEvent.INVITATION_ACCEPTED)
    assert entry.practice_id == world.a.practice.id and entry.actor_id == str(user.pk)
    assert entry.detail["invitation_id"] == str(invitation.id) and entry.detail["new_account"] is True
    assert "new.hire" not in repr(entry.detail)


def test_acc1_a_new_account_is_checked_by_the_password_validators_all_errors_at_once(world):
    _, token = _invite(world.a)
    client = Client()
    _open(client, token)
    before = snapshot()
    response = _accept_new(client, display_name="", password="short", password_again="other")
    assert response.status_code == 400
    body = response.content.decode()
    assert "This password is too short" in body
    assert "The two passwords differ" in body
    assert "required" in body.lower()
    assert snapshot() == before


def test_acc1_a_link_works_once(world):
    _, token = _invite(world.a)
    first = Client()
    _open(first, token)
    _accept_new(first)
    second = Client()
    _open(second, token)
    before = snapshot()
    response = _accept_new(second, display_name="Someone Else")
    assert response.status_code == 400
    assert "already been used" in response.content.decode()
    assert snapshot() == before


def test_an_expired_link_is_refused_and_nothing_written(world):
    invitation, token = _invite(world.a)
    with tenant_context(practice_id=world.a.practice.id):
        Invitation.objects.filter(id=invitation.id).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    client = Client()
    _open(client, token)
    before = snapshot()
    response = _accept_new(client)
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert snapshot() == before


def test_a_withdrawn_link_is_refused_and_a_resent_one_replaces_the_old(world):
    invitation, token = _invite(world.a)
    mail.outbox.clear()
    with tenant_context(practice_id=world.a.practice.id), _capture(execute=True):
        invitations.do_resend_invitation(actor=_owner_actor(world.a), invitation_id=invitation.id)
    new_token = _token_from_mail()
    assert new_token != token
    old = Client()
    _open(old, token)
    assert "not valid" in old.get(reverse("accounts:invitation-accept")).content.decode()

    with tenant_context(practice_id=world.a.practice.id):
        invitations.do_revoke_invitation(actor=_owner_actor(world.a), invitation_id=invitation.id)
    client = Client()
    _open(client, new_token)
    before = snapshot()
    response = _accept_new(client)
    assert response.status_code == 400 and "withdrawn" in response.content.decode()
    assert snapshot() == before
    events = list(AuditEntry.objects.filter(event__startswith="accounts:invitation:").order_by("at", "seq").values_list("event", flat=True))
    assert events == [AuditEvent.INVITATION_SENT, AuditEvent.INVITATION_RESENT, AuditEvent.INVITATION_REVOKED]


def test_a_revoke_after_acceptance_is_refused(world):
    invitation, token = _invite(world.a)
    client = Client()
    _open(client, token)
    _accept_new(client)
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput, match="already accepted"):
        invitations.do_revoke_invitation(actor=_owner_actor(world.a), invitation_id=invitation.id)


# --- Accepting with an existing account -----------------------------------------------------------
def test_acc2_an_existing_account_signs_in_with_mfa_and_gets_the_membership(world):
    someone = world.b.user(Role.BILLING)  # a member of practice B, invited to A
    _, token = _invite(world.a, email=someone.email, role=Role.FRONT_DESK)
    client = Client()
    _open(client, token)
    page = client.get(reverse("accounts:invitation-accept"))
    assert "Sign in to accept" in page.content.decode()
    before = snapshot()
    assert client.post(reverse("accounts:invitation-accept"))["Location"].startswith(reverse("accounts:login"))
    assert snapshot() == before  # nobody signed in: nothing accepted

    # Password only: the second factor is asked first.
    client.force_login(someone, backend="django.contrib.auth.backends.ModelBackend")
    pending = client.get(reverse("accounts:invitation-accept"))
    assert pending["Location"].startswith(reverse("accounts:mfa-verify"))
    assert _members(world.a).get(someone.email) is None

    sign_in(client, someone)
    assert "Join Practice A" in client.get(reverse("accounts:invitation-accept")).content.decode()
    response = client.post(reverse("accounts:invitation-accept"))
    assert response["Location"] == reverse("core:dashboard")
    assert _members(world.a)[someone.email] == ("front_desk", True)
    assert _members(world.b)[someone.email] == ("billing", True)
    entry = AuditEntry.objects.get(event=AuditEvent.INVITATION_ACCEPTED)
    assert entry.detail["new_account"] is False
    # Now in practice A: the switcher lists both.
    assert client.get(reverse("core:dashboard")).status_code == 200


def test_a_signed_in_account_with_another_address_cannot_accept(world):
    _, token = _invite(world.a)
    client = sign_in(Client(), world.b.owner, world.b.practice)
    _open(client, token)
    before = snapshot()
    response = client.post(reverse("accounts:invitation-accept"))
    assert response.status_code == 403
    assert "another account" in response.content.decode()
    assert snapshot() == before


def test_a_former_member_is_made_active_again_with_the_invited_role(world):
    from confide.accounts.staff import check_deactivate_member

    target = world.a.memberships[Role.BILLING]
    with tenant_context(practice_id=world.a.practice.id):
        check_deactivate_member(actor=_owner_actor(world.a), membership_id=target.id)
    _, token = _invite(world.a, email=target.user.email, role=Role.FRONT_DESK)
    client = sign_in(Client(), target.user)
    _open(client, token)
    client.post(reverse("accounts:invitation-accept"))
    assert _members(world.a)[target.user.email] == ("front_desk", True)


@pytest.mark.parametrize("change", ["revoked", "accepted", "expired"])
def test_acc1_the_database_decides_a_link_read_as_open_just_before_it_was_spent_is_refused(world, monkeypatch, change):
    """The interleaving the concurrency suite can only hope to hit: the page read the invitation
    as open, then another request withdrew, used or outlived it, then this one accepts. The
    conditional UPDATE re-checks the row: nothing is made."""
    invitation, token = _invite(world.a)
    reference = invitations.session_reference(token)
    opened = invitations.get_open_invitation(reference)
    stamp = {"revoked": {"revoked_at": timezone.now()}, "accepted": {"accepted_at": timezone.now()},
             "expired": {"expires_at": timezone.now() - datetime.timedelta(seconds=1)}}[change]  # fmt: skip
    with tenant_context(practice_id=world.a.practice.id):
        Invitation.objects.filter(id=invitation.id).update(**stamp)
    monkeypatch.setattr(invitations, "get_open_invitation", lambda ref: opened)
    before = snapshot()
    with pytest.raises(invitations.InvitationUnusable) as refused:
        invitations.check_accept_as_new_account(reference=reference, display_name="Late Comer", password=NEW_PASSWORD, password_again=NEW_PASSWORD)
    assert refused.value.reason == change
    assert snapshot() == before
