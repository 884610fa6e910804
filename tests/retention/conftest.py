"""The retention part's test helpers: a verified deletion request made with the model directly
(the intake part's public form joins at the merge), staff actors, data to erase and keep."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.access.conftest import FULL, make_patient, staff  # noqa: F401  (fixtures)
from tests.portal_world import portal_world as build_portal_world


@pytest.fixture
def portal(world):
    return build_portal_world(world.a)


@pytest.fixture
def officer(world):
    return StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER])


def delete_request(patient, *, by_representative=False, requested_by=None, verified=True):
    from confide.rights.models import Channel, RequestKind, RequestStatus, RightsRequest, Verification

    now = timezone.now()
    with tenant_context(practice_id=patient.practice_id):
        return RightsRequest.objects.create(
            practice_id=patient.practice_id, patient_id=patient.pk if verified else None, kind=RequestKind.DELETE,
            status=RequestStatus.RECEIVED, channel=Channel.PORTAL, requested_by=requested_by, by_representative=by_representative,
            verification=Verification.SESSION if verified else Verification.PENDING, verified_at=now if verified else None,
            received_at=now, due_on=timezone.localdate(now) + datetime.timedelta(days=30), regimes=["hipaa"],
        )  # fmt: skip


def add_preferences(patient):
    from confide.messaging.models import NotificationPreference

    with tenant_context(practice_id=patient.practice_id):
        return NotificationPreference.objects.create(practice_id=patient.practice_id, patient_id=patient.pk, topic="reminders")


def add_disclosure(patient, recipient="Dr. Recipient, Oak Clinic"):
    from confide.disclosures.services import record_disclosure

    return record_disclosure(
        practice_id=patient.practice_id, patient_id=patient.pk, basis="other_provider", source="manual", recipient=recipient,
        description="Visit summary", purpose="Continuing care",
    )  # fmt: skip


def add_note(world, patient):
    from confide.records.notes import do_create_note

    actor = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=patient.practice_id):
        return do_create_note(actor=actor, patient_id=patient.pk, content={"subjective": "canary-diagnosis-xyzzy"})
