"""ACC5/ACC6: a patient signs in to the portal with their own account; staff and patient
sessions never reach each other's pages."""

from __future__ import annotations

from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.conftest import PASSWORD, sign_in
from tests.portal_world import portal_sign_in


def test_patient_signs_in_and_sees_their_own_name(client, portal):
    response = client.post(reverse("portal:signin"), {"username": portal.adult.user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    page = client.get(reverse("portal:home"))
    assert page.status_code == 200
    assert "Hello, Ada Portal" in page.content.decode()


def test_wrong_password_is_refused_with_a_message_and_audited(client, portal):
    response = client.post(reverse("portal:signin"), {"username": portal.adult.user.email, "password": "wrong-password-1"})
    assert response.status_code == 200
    assert "did not match a portal account" in response.content.decode()
    assert AuditEntry.objects.filter(event=AuditEvent.SIGNIN_FAILED).exists()


def test_staff_credentials_do_not_open_the_portal(client, world):
    response = client.post(reverse("portal:signin"), {"username": world.a.owner.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Practice staff sign in at" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_patient_credentials_do_not_open_the_staff_sign_in(client, portal):
    response = client.post(reverse("accounts:login"), {"username": portal.adult.user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Patients sign in to the patient portal" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_portal_session_gets_404_on_staff_pages(client, portal):
    portal_sign_in(client, portal.adult.user)
    for name in ("core:dashboard", "records:patient-list", "accounts:security", "audit:log"):
        response = client.get(reverse(name))
        assert response.status_code == 404, name


def test_a_staff_session_is_sent_to_the_portal_sign_in(client, world, portal):
    sign_in(client, world.a.owner, world.a.practice)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:signin"))


def test_anonymous_visitor_is_sent_to_the_portal_sign_in_not_the_staff_one(client):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:signin')}?next=/portal/"


def test_next_never_leaves_the_portal(client, portal):
    response = client.post(f"{reverse('portal:signin')}?next=/records/", {"username": portal.adult.user.email, "password": PASSWORD, "next": "/records/"})
    assert response["Location"] == reverse("portal:home")


def test_parent_switches_between_own_and_childs_record(client, portal):
    portal_sign_in(client, portal.parent.user)
    page = client.get(reverse("portal:home")).content.decode()
    assert "Hello, Paula Parent" in page
    assert "Kit Parent (you are their parent or guardian)" in page
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    page = client.get(reverse("portal:home")).content.decode()
    assert "Kit Parent's record" in page
    assert 'data-testid="acting-for"' in page


def test_switching_to_a_link_the_account_does_not_hold_is_404(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    assert response.status_code == 404


def test_practice_requiring_a_second_factor_sends_a_new_patient_to_set_one_up(client, world, portal):
    world.a.practice.portal_mfa_required = True
    world.a.practice.save(update_fields=["portal_mfa_required"])
    portal_sign_in(client, portal.adult.user)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:mfa-enrol")
    assert Role  # the staff roles play no part in the portal
