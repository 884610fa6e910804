"""The portal's dashboard: honest placeholder cards, requests in progress, and POL2's banner for a
material change to the privacy notice with "I have read it" recorded for the patient."""

from __future__ import annotations

import uuid

from django.urls import reverse

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy.models import NoticeAcknowledgement
from tests.policy.helpers import publish_in_force
from tests.portal_world import portal_sign_in


def test_the_dashboard_says_what_is_not_there_yet(client, portal):
    portal_sign_in(client, portal.adult.user)
    html = client.get(reverse("portal:home")).content.decode()
    assert "Write to your care team" in html  # the messages tab (issue 15)
    assert "You have no forms to fill in." in html
    assert "You have no open requests." in html
    assert 'data-testid="notice-banner"' not in html


def _material_change(world):
    actor = StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER])
    return publish_in_force(actor=actor, override_toml='[[processors]]\nid = "sms"\nin_use = true\n', summary="We now send text messages through Twilio.")


def test_pol2_a_material_change_shows_a_banner_until_the_patient_has_read_it(client, world, portal):
    version = _material_change(world)
    portal_sign_in(client, portal.adult.user)
    html = client.get(reverse("portal:home")).content.decode()
    assert 'data-testid="notice-banner"' in html and "We now send text messages through Twilio." in html
    response = client.post(reverse("portal:acknowledge-notice"), {"version_id": str(version.pk)})
    assert response.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        ack = NoticeAcknowledgement.objects.get(version=version, kind=NoticeAcknowledgement.Kind.ACCEPTED)
    assert (ack.subject_kind, ack.subject_id) == ("patient", str(portal.adult.patient.pk))
    assert 'data-testid="notice-banner"' not in client.get(reverse("portal:home")).content.decode()


def test_pol2_a_parent_reads_it_for_the_childs_record_too(client, world, portal):
    version = _material_change(world)
    portal_sign_in(client, portal.parent.user)
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    assert 'data-testid="notice-banner"' in client.get(reverse("portal:home")).content.decode()
    client.post(reverse("portal:acknowledge-notice"), {"version_id": str(version.pk)})
    with tenant_context(practice_id=world.a.practice.id):
        ack = NoticeAcknowledgement.objects.get(version=version, kind=NoticeAcknowledgement.Kind.ACCEPTED)
    assert ack.subject_id == str(portal.child.pk)


def test_an_unknown_or_malformed_version_records_nothing(client, world, portal):
    _material_change(world)
    portal_sign_in(client, portal.adult.user)
    for value in (str(uuid.uuid4()), "not-a-uuid", ""):
        response = client.post(reverse("portal:acknowledge-notice"), {"version_id": value})
        assert response.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        assert not NoticeAcknowledgement.objects.filter(kind=NoticeAcknowledgement.Kind.ACCEPTED).exists()
    assert "We could not find that notice." in client.get(reverse("portal:home")).content.decode()
