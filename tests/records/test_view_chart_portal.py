"""ACC5 from the staff side: the chart's "Portal access" page — who holds access (names from the
portal accounts), pending invitations, invite the patient (prefilled from the chart's e-mail),
invite a parent or guardian of a minor (a guardian link to an adult is refused), end access
(audited, the holder told), withdraw an invitation. Registration writers only."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from confide.accounts.models import LinkKind, PortalInvitation, PortalLink
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.portal_world import create_patient, portal_world, years_ago
from tests.security.routes_helpers import snapshot


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


@pytest.fixture
def portal(world):
    return portal_world(world.a)


def url(patient) -> str:
    return reverse("records:chart-portal", kwargs={"patient_id": patient.pk})


def guardian(**fields) -> dict:
    return {f"guardian-{name}": value for name, value in fields.items()}


def post(client, patient, **data):
    with _capture(execute=True):
        return client.post(url(patient), data)


def test_acc5_the_page_lists_holders_by_their_portal_names_and_prefills_the_chart_email(world, signed_in, portal):
    client = signed_in(Role.FRONT_DESK)
    page = client.get(url(portal.child)).content.decode()
    assert page.count('id="id_email"') == 1 and 'id="id_guardian-email"' in page  # two forms, distinct ids
    assert "Paula" in page and "parent or guardian (mother)" in page
    adult = create_patient(world.a, email="fresh@example.test")
    page = client.get(url(adult)).content.decode()
    assert 'value="fresh@example.test"' in page and "Nobody has portal access" in page
    assert "Invite a parent or guardian" not in page  # an adult


def test_acc5_front_desk_invites_the_patient_and_the_invitation_waits_on_the_page(world, signed_in):
    client = signed_in(Role.FRONT_DESK)
    patient = create_patient(world.a, email="fresh@example.test")
    response = post(client, patient, action="invite", email="fresh@example.test")
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "/portal/invitation/?token=" in mail.outbox[0].body
    with tenant_context(practice_id=world.a.practice.id):
        invitation = PortalInvitation.objects.get(patient_id=patient.pk)
    assert invitation.kind == LinkKind.SELF and invitation.created_by_id == world.a.user(Role.FRONT_DESK).pk
    assert "fresh@example.test" in client.get(url(patient)).content.decode().split("Invitations waiting")[1]


def test_a_patient_who_has_their_own_account_is_not_invited_again(world, signed_in, portal):
    client = signed_in(Role.OWNER)
    before = snapshot()
    response = post(client, portal.adult.patient, action="invite", email="other@example.test")
    assert response.status_code == 400 and "already has their own portal account" in response.content.decode()
    assert mail.outbox == []
    assert {k: v for k, v in snapshot().items() if k != "AuditEntry"} == {k: v for k, v in before.items() if k != "AuditEntry"}


def test_acc5_a_guardian_of_a_minor_is_invited_with_the_basis_and_the_verifier(world, signed_in):
    client = signed_in(Role.FRONT_DESK)
    child = create_patient(world.a, date_of_birth=years_ago(8))
    response = post(client, child, action="invite-guardian", **guardian(email="dad@example.test", relationship="father", basis="birth-certificate", verified="on"))
    assert response.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        invitation = PortalInvitation.objects.get(patient_id=child.pk)
    assert (invitation.kind, invitation.relationship, invitation.basis) == (LinkKind.REPRESENTATIVE, "father", "birth-certificate")
    assert invitation.verified_by_id == world.a.user(Role.FRONT_DESK).pk


def test_a_guardian_link_to_an_adult_is_refused_with_a_clear_message(world, signed_in):
    client = signed_in(Role.OWNER)
    adult = create_patient(world.a, date_of_birth=years_ago(30))
    response = post(client, adult, action="invite-guardian", **guardian(email="dad@example.test", relationship="father", basis="court-order", verified="on"))
    assert response.status_code == 400 and "This patient is an adult" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert not PortalInvitation.objects.exists()


def test_a_guardian_invitation_needs_the_confirmation_that_it_was_verified(world, signed_in):
    client = signed_in(Role.OWNER)
    child = create_patient(world.a, date_of_birth=years_ago(8))
    response = post(client, child, action="invite-guardian", **guardian(email="dad@example.test", relationship="father", basis="court-order"))
    assert response.status_code == 400 and "Confirm that you checked" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert not PortalInvitation.objects.exists()


def test_acc5_ending_access_is_audited_and_the_holder_is_told(world, signed_in, portal):
    client = signed_in(Role.FRONT_DESK)
    response = post(client, portal.child, action="end", link_id=str(portal.child_link.id))
    assert response.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        link = PortalLink.objects.get(id=portal.child_link.id)
    assert not link.is_active and link.ended_reason == "ended-by-practice"
    entry = AuditEntry.objects.get(event=AuditEvent.PORTAL_LINK_ENDED)
    assert entry.detail["link_id"] == str(link.id) and entry.actor_id == str(world.a.user(Role.FRONT_DESK).pk)
    assert mail.outbox[-1].to == [portal.parent.user.email]


def test_a_link_of_another_record_cannot_be_ended_from_this_chart(world, signed_in, portal):
    client = signed_in(Role.OWNER)
    response = post(client, portal.child, action="end", link_id=str(portal.adult.link.id))
    assert response.status_code == 404
    with tenant_context(practice_id=world.a.practice.id):
        assert PortalLink.objects.get(id=portal.adult.link.id).is_active


def test_an_invitation_is_withdrawn_from_the_page(world, signed_in):
    client = signed_in(Role.OWNER)
    patient = create_patient(world.a)
    post(client, patient, action="invite", email="fresh@example.test")
    with tenant_context(practice_id=world.a.practice.id):
        invitation = PortalInvitation.objects.get()
    assert post(client, patient, action="withdraw", invitation_id=str(invitation.id)).status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        invitation.refresh_from_db()
    assert invitation.revoked_at is not None


@pytest.mark.parametrize("data", [{}, {"action": "nonsense"}, {"action": "invite", "email": "not-an-address"}, {"action": "end", "link_id": "x"}])
def test_bad_input_gets_a_clear_error_and_nothing_written(world, signed_in, data):
    client = signed_in(Role.OWNER)
    patient = create_patient(world.a)
    response = post(client, patient, **data)
    assert response.status_code in (400, 404)
    with tenant_context(practice_id=world.a.practice.id):
        assert not PortalInvitation.objects.exists()


def test_billing_cannot_manage_portal_access(world, signed_in, portal):
    assert signed_in(Role.BILLING).get(url(portal.adult.patient)).status_code == 403


def test_the_overview_links_to_portal_access_for_registration_writers(world, signed_in, portal):
    page = signed_in(Role.FRONT_DESK).get(reverse("records:chart", kwargs={"patient_id": portal.adult.patient.pk})).content.decode()
    assert reverse("records:chart-portal", kwargs={"patient_id": portal.adult.patient.pk}) in page


def test_min3_a_guardians_authorization_document_is_added_from_the_portal_access_page(world, signed_in, portal):
    from confide.records.models import RepresentativeDocument
    from tests.records.uploads import pdf_upload

    client = signed_in(Role.FRONT_DESK)
    page = client.get(url(portal.child)).content.decode()
    action = reverse("records:portal-link-document", kwargs={"patient_id": portal.child.pk, "link_id": portal.child_link.pk})
    assert f'action="{action}"' in page  # the form sits beside the guardian's access
    response = client.post(action, {"title": "Guardianship order", "file": pdf_upload()})
    assert response.status_code == 302 and response["Location"] == url(portal.child)
    with tenant_context(practice_id=world.a.practice.id):
        assert RepresentativeDocument.objects.filter(portal_link_id=portal.child_link.pk).count() == 1
