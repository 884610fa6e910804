"""MIN3 / bad input "a guardian link to an adult": `check_representative_allowed` reads the date of
birth through the chart door and refuses, with a message the staff member can act on, a patient
who is 18 or older (or whose date of birth is missing); a minor passes."""

from __future__ import annotations

import pytest

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.representatives import check_representative_allowed
from tests.portal_world import create_patient, years_ago


def _staff(world, role=Role.FRONT_DESK, practice="a"):
    return StaffActor.from_membership(getattr(world, practice).memberships[role])


def _check(actor, patient_id):
    with tenant_context(practice_id=actor.practice_id):
        check_representative_allowed(actor, patient_id)


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.CLINICIAN, Role.OWNER])
def test_min3_a_minor_may_get_a_guardian_link(world, role):
    child = create_patient(world.a, date_of_birth=years_ago(18, days=-1))  # 18 tomorrow
    _check(_staff(world, role), child.pk)
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, subject_id=child.pk).latest("id")
    assert list(opened.categories) == ["identifiers.dob"] and opened.purpose == "operations"


@pytest.mark.parametrize("born", [years_ago(18), years_ago(40)])
def test_min3_a_guardian_link_to_an_adult_is_refused_with_a_clear_message(world, born):
    adult = create_patient(world.a, date_of_birth=born)
    with pytest.raises(InvalidInput, match="18 or older.*invite the patient to their own account"):
        _check(_staff(world), adult.pk)


def test_min3_a_record_without_a_date_of_birth_is_refused_until_one_is_added(world):
    patient = create_patient(world.a, date_of_birth=None)
    with pytest.raises(InvalidInput, match="date of birth first"):
        _check(_staff(world), patient.pk)


def test_min3_another_practices_patient_answers_as_missing(world):
    child = create_patient(world.b, date_of_birth=years_ago(10))
    with pytest.raises(NotFound):
        _check(_staff(world), child.pk)
