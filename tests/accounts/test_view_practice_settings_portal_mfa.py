"""ACC2 for patients: the owner switches whether the practice requires a second sign-in step
of its portal patients (Practice.portal_mfa_required), with a plain label; audited."""

import pytest
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.models import Practice
from confide.core.permissions import Role
from tests.portal_world import portal_sign_in, portal_world


@pytest.fixture
def portal_world_a(world):
    return portal_world(world.a)


def test_acc2_owner_requires_a_second_factor_of_portal_patients(signed_in, world, portal_world_a):
    client = signed_in(Role.OWNER)
    page = client.get(reverse("accounts:practice-settings")).content.decode()
    assert "Require patients to add a second sign-in step" in page
    response = client.post(
        reverse("accounts:practice-settings"),
        {"name": "Practice A", "mfa_required": "on", "portal_mfa_required": "on", "idle_timeout_minutes": "15"},
    )
    assert response.status_code == 302
    assert Practice.objects.get(id=world.a.practice.id).portal_mfa_required
    assert AuditEntry.objects.get(event=AuditEvent.PRACTICE_SETTINGS_CHANGED).detail == {"fields": ["portal_mfa_required"]}
    # A patient of the practice without a second factor is now sent to set one up.
    patient = portal_sign_in(Client(), portal_world_a.adult.user)
    assert patient.get(reverse("portal:home"))["Location"] == reverse("portal:mfa-enrol")


def test_leaving_the_box_unticked_keeps_it_off(signed_in, world):
    client = signed_in(Role.OWNER)
    client.post(reverse("accounts:practice-settings"), {"name": "Practice A", "mfa_required": "on", "idle_timeout_minutes": "15"})
    assert not Practice.objects.get(id=world.a.practice.id).portal_mfa_required
