"""RTS1 / MIN3: a patient (or a minor's parent or guardian) opens a rights request in the portal;
it lands in the privacy officer's queue with its HIPAA deadline, the detail sealed, audited."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.consent.topics import Action
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.tenancy import tenant_context
from confide.portal import privacy
from confide.rights import services
from confide.rights.models import RightsRequest
from confide.vault.errors import PHIAccessDenied
from tests.portal_world import actor_for

DETAIL = "Please correct my date of birth; the year is wrong"


def _requests(practice_id):
    with tenant_context(practice_id=practice_id):
        return list(RightsRequest.objects.all())


def test_rts1_an_access_request_is_received_and_due_in_thirty_days(portal):
    actor = portal.adult.actor
    made = services.check_open_request(actor=actor, kind="copy")
    assert made.status == "received" and made.kind == "copy" and not made.by_representative
    assert made.due_on == timezone.localdate(made.received_at) + datetime.timedelta(days=30)
    assert made.requested_by_id == portal.adult.user.pk and made.patient_id == portal.adult.patient.pk
    with tenant_context(practice_id=actor.practice_id):
        entry = AuditEntry.objects.filter(event=AuditEvent.RIGHTS_REQUEST_OPENED).get()
    assert entry.resource_ids == [str(made.pk)] and entry.subject_id == made.patient_id
    assert entry.detail == {"kind": "copy", "due_on": made.due_on.isoformat()} and entry.categories == []
    assert (entry.actor_kind, entry.actor_role) == ("patient", "self")


def test_a_correction_is_due_by_the_strictest_regime_in_force(portal):
    """HIPAA gives an amendment 60 days; with CCPA in force (the shipped declaration) a correction
    is due in 45, and the request takes the earlier date (confide/rights/deadlines.py)."""
    made = services.check_open_request(actor=portal.adult.actor, kind="correct")
    assert made.due_on == timezone.localdate(made.received_at) + datetime.timedelta(days=45)
    assert made.regimes == ["ccpa", "hipaa", "us_states"] and made.verification == "session" and made.channel == "portal"


def test_the_detail_is_sealed_under_the_patients_key_and_never_in_the_log(portal):
    actor = portal.adult.actor
    made = services.check_open_request(actor=actor, kind="correct", detail=DETAIL)
    with tenant_context(practice_id=actor.practice_id):
        row = RightsRequest.objects.get(pk=made.pk)
        with pytest.raises(PHIAccessDenied):
            str(row.detail)  # outside the door
        entries = list(AuditEntry.objects.all())
        job = [e for e in entries if e.actor_kind == "system" and e.actor_id == "rights-request-job"]
    assert len(job) == 1 and job[0].categories == ["communications.messages"]
    assert all(DETAIL not in str(e.detail) for e in entries)


def test_min3_a_parent_asks_for_the_child_and_it_is_recorded_as_the_parents(portal):
    made = services.check_open_request(actor=portal.child_actor, kind="restrict")
    assert made.by_representative and made.patient_id == portal.child.pk and made.requested_by_id == portal.parent.user.pk
    with tenant_context(practice_id=portal.child.practice_id):
        entry = AuditEntry.objects.filter(event=AuditEvent.RIGHTS_REQUEST_OPENED).get()
    assert entry.actor_role == "representative"


@pytest.mark.parametrize("kind, detail, message", [
    ("sell", "", "Choose what you would like us to do"),
    ("", "", "Choose what you would like us to do"),
    ("other", "x" * 2001, "2000 characters or fewer"),
    ("other", "a hidden\x00character", "invisible control character"),
])  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(portal, kind, detail, message):
    with pytest.raises(InvalidInput, match=message):
        services.check_open_request(actor=portal.adult.actor, kind=kind, detail=detail)
    assert _requests(portal.adult.patient.practice_id) == []


def test_an_ended_link_cannot_open_a_request(portal):
    link = portal.child_link
    with tenant_context(practice_id=link.practice_id):
        type(link).objects.filter(pk=link.pk).update(is_active=False)
    with pytest.raises((NotFound, AccessRefused)):
        services.check_open_request(actor=actor_for(link), kind="see")
    assert _requests(link.practice_id) == []


def test_only_a_portal_patient_opens_a_request(world, portal):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role

    with pytest.raises(Forbidden):
        services.check_open_request(actor=StaffActor.from_membership(world.a.memberships[Role.OWNER]), kind="see")


def test_the_acknowledgement_is_emailed_only_with_consent_to_health_details_by_email(world, portal, django_capture_on_commit_callbacks):
    actor = portal.adult.actor
    with django_capture_on_commit_callbacks(execute=True):
        services.check_open_request(actor=actor, kind="see")
    assert mail.outbox == []  # no consent: nothing sent
    item = privacy.BY_TOPIC["phi_by_email"]
    privacy.do_choice(actor=actor, link_id=actor.link_id, topic="phi_by_email", action="grant", digest=privacy.shown_digest(item, Action.GRANT))
    _with_email_agreement(world)
    with django_capture_on_commit_callbacks(execute=True):
        made = services.check_open_request(actor=actor, kind="see", detail=DETAIL)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [portal.adult.user.email]
    assert "See my information".lower() in message.body and f"{made.due_on:%-d %B %Y}" in message.body
    assert DETAIL not in message.body


def _with_email_agreement(world):
    """The e-mail processor with a Business Associate Agreement on file (the egress gate's rule for PHI)."""
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.policy.services import do_publish_policy

    do_publish_policy(actor=StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER]),
                      override_toml='[[processors]]\nid = "email"\nbaa_on_file = true\n', effective_at=timezone.now(),
                      material=False, summary="A change.")  # fmt: skip


def test_rts7_an_appeal_names_its_decision_so_the_portal_form_refuses_a_free_one(portal):
    import pytest

    from confide.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="Appeal this decision"):
        services.check_open_request(actor=portal.adult.actor, kind="appeal")
