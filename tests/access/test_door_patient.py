"""The chart door for a patient actor (AUD1, MIN3, ACC4): the portal opens only the account's
own linked record, only for patient_request, only the portal's categories, and the link is
re-read on every opening."""

from __future__ import annotations

import dataclasses

import pytest
from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import NotFound
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from tests.portal_world import portal_world


@pytest.fixture
def pw(world):
    return portal_world(world.a)


def _open(actor, patient_id, purpose=Purpose.PATIENT_REQUEST, **kwargs):
    with tenant_context(practice_id=actor.practice_id):
        with open_chart(actor, patient_id, purpose, **kwargs) as chart:
            return chart.categories, chart.patient.given_name


def test_patient_opens_own_record_with_the_portal_grant(pw):
    categories, name = _open(pw.adult.actor, pw.adult.patient.pk)
    assert categories == policy.PORTAL_GRANT
    assert name == "Ada"
    entry = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, subject_id=pw.adult.patient.pk).latest("id")
    assert (entry.actor_kind, entry.actor_id, entry.actor_role, entry.purpose) == ("patient", str(pw.adult.user.pk), "self", "patient_request")


def test_portal_grant_never_holds_psychotherapy_or_staff_notes():
    assert policy.PSYCHOTHERAPY_NOTES not in policy.PORTAL_GRANT
    assert policy.NOTES not in policy.PORTAL_GRANT
    assert policy.BREAK_GLASS_REASON not in policy.PORTAL_GRANT


def test_psychotherapy_notes_are_refused_to_a_patient(pw):
    with pytest.raises(AccessRefused):
        _open(pw.adult.actor, pw.adult.patient.pk, categories=[policy.PSYCHOTHERAPY_NOTES])


def test_another_patients_record_answers_as_missing(pw):
    with pytest.raises(NotFound):
        _open(pw.adult.actor, pw.parent.patient.pk)
    refused = AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED).latest("id")
    assert refused.actor_kind == "patient" and refused.reason == "not_found"


def test_a_forged_actor_naming_another_record_answers_as_missing(pw):
    forged = dataclasses.replace(pw.adult.actor, patient_id=pw.parent.patient.pk)
    with pytest.raises(NotFound):
        _open(forged, pw.parent.patient.pk)


def test_a_self_link_cannot_act_as_a_representative(pw):
    forged = dataclasses.replace(pw.adult.actor, representative=True)
    with pytest.raises(NotFound):
        _open(forged, pw.adult.patient.pk)


def test_other_purposes_are_refused(pw):
    with pytest.raises(AccessRefused):
        _open(pw.adult.actor, pw.adult.patient.pk, Purpose.TREATMENT)


def test_an_ended_link_opens_nothing(pw):
    with tenant_context(practice_id=pw.adult.link.practice_id):
        type(pw.adult.link).objects.filter(pk=pw.adult.link.pk).update(is_active=False, ended_at=timezone.now(), ended_reason="deactivated")
    with pytest.raises(NotFound):
        _open(pw.adult.actor, pw.adult.patient.pk)
    assert AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED).latest("id").reason == "portal_link_inactive"


def test_a_deactivated_account_opens_nothing(pw):
    pw.adult.user.is_active = False
    pw.adult.user.save(update_fields=["is_active"])
    with pytest.raises(NotFound):
        _open(pw.adult.actor, pw.adult.patient.pk)


def test_parent_opens_the_childs_record_as_representative(pw):
    categories, name = _open(pw.child_actor, pw.child.pk)
    assert name == "Kit" and categories == policy.PORTAL_GRANT
    entry = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, subject_id=pw.child.pk).latest("id")
    assert (entry.actor_id, entry.actor_role) == (str(pw.parent.user.pk), "representative")


def test_a_patient_actor_cannot_list_or_create(pw):
    from confide.access.door import create_chart, open_patient_list

    with tenant_context(practice_id=pw.adult.actor.practice_id):
        with pytest.raises(AccessRefused):
            with open_patient_list(pw.adult.actor, Purpose.PATIENT_REQUEST, [pw.parent.patient.pk], categories=[policy.NAME]):
                pass
        with pytest.raises(AccessRefused):
            with create_chart(pw.adult.actor, Purpose.PATIENT_REQUEST, categories=[policy.NAME]):
                pass


def test_another_practices_patient_actor_cannot_open_practice_a_records(world, pw):
    other = portal_world(world.b)
    forged = dataclasses.replace(other.adult.actor, practice_id=pw.adult.actor.practice_id, patient_id=pw.adult.patient.pk)
    with pytest.raises(NotFound):
        _open(forged, pw.adult.patient.pk)
