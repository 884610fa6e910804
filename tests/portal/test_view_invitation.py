"""ACC5: the portal invitation link's pages. The token leaves the address; a new person chooses
a password and lands on the portal home, signed in; a signed-in account adds a record after its
password; every link that does not work — or a person it is not for — gets one clear page,
nothing written, an audit entry."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from confide.accounts import portal_invitations as invites
from confide.accounts.models import LinkKind, PortalInvitation, PortalLink, User
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from tests.conftest import PASSWORD, sign_in
from tests.portal_world import create_patient, portal_sign_in, years_ago
from tests.security.routes_helpers import snapshot

NEW_PASSWORD = "Plum-Kettle-Harbour-42"
LINK = re.compile(r"https?://[^/\s]+(/portal/invitation/\?token=(\S+))")


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def invite(pw, patient, email="pat@example.test", **kw) -> str:
    """Issue through the service; the path (with the token) the e-mail carries."""
    mail.outbox.clear()
    with tenant_context(practice_id=pw.practice.id), _capture(execute=True):
        invites.issue_portal_invitation(practice_id=pw.practice.id, patient_id=patient.pk, email=email, invited_by_id=pw.owner.pk, **kw)
    return LINK.search(mail.outbox[-1].body).group(1)


def accept_new(client, **overrides):
    data = {"display_name": "Pat Patient", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD} | overrides
    return client.post(reverse("portal:invitation-accept"), data)


def refusals() -> list[str]:
    return [e.detail["reason"] for e in AuditEntry.objects.filter(event=AuditEvent.PORTAL_INVITATION_REFUSED).order_by("at")]


def test_acc5_the_link_moves_the_token_into_the_session_and_out_of_the_address(world, client):
    path = invite(world.a, create_patient(world.a))
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == reverse("portal:invitation-accept")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "pat@example.test" in page.content.decode() and "Choose a password" in page.content.decode()


def test_acc5_a_new_person_sets_a_password_and_lands_on_the_portal_home_signed_in(world, client):
    patient = create_patient(world.a, given_name="Pat", family_name="Newcomer", preferred_name="")
    client.get(invite(world.a, patient))
    response = accept_new(client)
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    home = client.get(reverse("portal:home"))
    assert home.status_code == 200 and "Hello, Pat Newcomer" in home.content.decode()
    user = User.objects.get(email="pat@example.test")
    assert user.is_patient and user.display_name == "Pat Patient"
    assert invites.SESSION_PORTAL_INVITATION not in client.session


def test_acc2_a_practice_that_requires_a_second_factor_sends_the_new_account_to_enrol(world, client):
    world.a.practice.portal_mfa_required = True
    world.a.practice.save(update_fields=["portal_mfa_required"])
    client.get(invite(world.a, create_patient(world.a)))
    accept_new(client)
    assert client.get(reverse("portal:home"))["Location"] == reverse("portal:mfa-enrol")


def test_a_weak_password_gets_the_form_again_with_400_and_nothing_is_written(world, client):
    client.get(invite(world.a, create_patient(world.a)))
    before = snapshot()
    response = accept_new(client, password="password", password_again="password")
    assert response.status_code == 400 and "too common" in response.content.decode()
    assert snapshot() == before


def _expire(pw):
    with tenant_context(practice_id=pw.practice.id):
        PortalInvitation.objects.update(expires_at=PortalInvitation.objects.get().created_at - datetime.timedelta(seconds=1))


def _revoke(pw):
    with tenant_context(practice_id=pw.practice.id):
        invitation = PortalInvitation.objects.get()
    invites.do_revoke_portal_invitation(practice_id=pw.practice.id, invitation_id=invitation.id, revoked_by_id=pw.owner.pk)


def _use(pw):
    Client().get(_use.path)
    c = Client()
    c.get(_use.path)
    accept_new(c)


@pytest.mark.parametrize(("spoil", "reason", "words"), [(_expire, "expired", "too old"), (_revoke, "revoked", "withdrew"), (_use, "used", "used already")])
def test_acc5_an_expired_withdrawn_or_used_link_gets_one_clear_page_and_nothing_written(world, client, spoil, reason, words):
    path = invite(world.a, create_patient(world.a))
    _use.path = path
    spoil(world.a)
    before = snapshot()
    client.get(path)
    response = client.get(reverse("portal:invitation-accept"))
    assert response.status_code == 400 and words in response.content.decode()
    assert refusals()[-1] == reason
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "AuditEntry"} == {k: v for k, v in before.items() if k != "AuditEntry"}


@pytest.mark.parametrize("token", ["", "garbage", "0" * 32 + "." + "x" * 43])
def test_acc5_a_garbled_or_unknown_link_gets_one_clear_page(world, client, token):
    client.get(reverse("portal:invitation"), {"token": token})
    response = client.get(reverse("portal:invitation-accept"))
    assert response.status_code == 400 and "does not work" in response.content.decode()
    assert refusals() and set(refusals()) == {"unknown"}
    assert not User.objects.filter(kind="patient").exists()


def test_an_invitation_for_patient_a_opened_as_patient_b_explains_and_links_nothing(world, client, portal):
    patient = create_patient(world.a)
    path = invite(world.a, patient, email="someone.else@example.test")
    portal_sign_in(client, portal.adult.user)
    client.get(path)
    response = client.get(reverse("portal:invitation-accept"))
    body = response.content.decode()
    assert response.status_code == 403 and "another e-mail address" in body and "Sign out and open the invitation" in body
    post = client.post(reverse("portal:invitation-accept"), {"password": PASSWORD})
    assert post.status_code == 403
    with tenant_context(practice_id=world.a.practice.id):
        assert not PortalLink.objects.filter(patient_id=patient.pk).exists()
    assert refusals() == ["other-account", "other-account"]
    # Signing out from there keeps the invitation waiting for the right person.
    out = client.post(reverse("portal:signout"), {"then": "invitation"})
    assert out["Location"] == reverse("portal:invitation-accept")
    assert "Choose a password" in client.get(reverse("portal:invitation-accept")).content.decode()


def test_a_staff_session_is_told_to_sign_out_of_staff_first(world, client):
    path = invite(world.a, create_patient(world.a))
    sign_in(client, world.a.owner, world.a.practice)
    client.get(path)
    response = client.get(reverse("portal:invitation-accept"))
    assert response.status_code == 403 and "Sign out of them first" in response.content.decode()
    assert refusals() == ["staff-session"]
    assert not User.objects.filter(email="pat@example.test").exists()


def test_acc5_a_signed_in_parent_adds_a_child_after_a_password_confirmation(world, client, portal):
    child = create_patient(world.a, date_of_birth=years_ago(4), given_name="Tiny", family_name="Parent", preferred_name="")
    path = invite(world.a, child, email=portal.parent.user.email, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by_id=world.a.owner.pk)
    portal_sign_in(client, portal.parent.user)
    client.get(path)
    page = client.get(reverse("portal:invitation-accept"))
    assert "Type your password" in page.content.decode()
    wrong = client.post(reverse("portal:invitation-accept"), {"password": "not-it"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    response = client.post(reverse("portal:invitation-accept"), {"password": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    with tenant_context(practice_id=world.a.practice.id):
        link = PortalLink.objects.get(patient_id=child.pk)
    assert link.user_id == portal.parent.user.pk and link.kind == LinkKind.REPRESENTATIVE
    assert "Tiny Parent" in client.get(reverse("portal:home")).content.decode()


def test_an_existing_portal_account_not_signed_in_is_asked_to_sign_in(world, client, portal):
    child = create_patient(world.a, date_of_birth=years_ago(4))
    path = invite(world.a, child, email=portal.parent.user.email, kind=LinkKind.REPRESENTATIVE, relationship="father", verified_by_id=world.a.owner.pk)
    client.get(path)
    page = client.get(reverse("portal:invitation-accept"))
    assert "already have a portal account" in page.content.decode()
    assert f"{reverse('portal:signin')}?next={reverse('portal:invitation-accept')}" in page.content.decode()


def test_acc2_a_signed_in_account_with_its_second_factor_pending_verifies_it_before_adding_a_record(world, client, portal):
    from tests.factories import enrol_totp

    enrol_totp(portal.parent.user)
    child = create_patient(world.a, date_of_birth=years_ago(4))
    path = invite(world.a, child, email=portal.parent.user.email, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by_id=world.a.owner.pk)
    portal_sign_in(client, portal.parent.user, verified=False)
    client.get(path)
    for response in (client.get(reverse("portal:invitation-accept")), client.post(reverse("portal:invitation-accept"), {"password": PASSWORD})):
        assert response["Location"] == f"{reverse('portal:mfa-verify')}?next={reverse('portal:invitation-accept')}"
    with tenant_context(practice_id=world.a.practice.id):
        assert not PortalLink.objects.filter(patient_id=child.pk).exists()
