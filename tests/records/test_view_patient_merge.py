"""The "Merge into…" page and the undo / make-final buttons (issue 12, item 7): search is posted,
nothing moves before a confirmed POST, roles that do not write the chart never see it."""

from __future__ import annotations

import datetime

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import Patient, PatientMerge
from confide.records.services import do_create_patient
from tests.records.conftest import entries, url
from tests.security.routes_helpers import assert_no_writes

import pytest

pytestmark = pytest.mark.usefixtures("in_a")

MERGE = CLOSE = "records:patient-merge"  # closing a merge is the same route, posted with an action


def _pair(chart, world):
    with tenant_context(practice_id=world.a.practice.id):
        keep = do_create_patient(actor=chart.actor(Role.CLINICIAN), given_name="Marisol", family_name="Quintero",
                                 date_of_birth=datetime.date(1984, 2, 11))  # fmt: skip
    return keep, chart.patient


def test_the_overview_offers_merge_into_to_those_who_write_the_chart_only(signed_in, chart, world):
    _, duplicate = _pair(chart, world)
    assert "Merge into…" in signed_in(Role.CLINICIAN).get(url("records:chart", duplicate)).content.decode()
    for role in (Role.FRONT_DESK, Role.BILLING):
        assert "Merge into…" not in signed_in(role).get(url("records:chart", duplicate)).content.decode()
        assert signed_in(role).get(url(MERGE, duplicate)).status_code == 403


def test_a_clinician_finds_the_chart_to_keep_confirms_and_lands_on_it(signed_in, chart, world):
    keep, duplicate = _pair(chart, world)
    client = signed_in(Role.CLINICIAN)
    assert client.get(url(MERGE, duplicate)).status_code == 200
    found = client.post(url(MERGE, duplicate), {"q": "quin"})
    body = found.content.decode()
    assert found.status_code == 200 and f'value="{keep.id}"' in body and f'value="{duplicate.id}"' not in body, "never itself"
    assert not PatientMerge.objects.exists()
    unconfirmed = client.post(url(MERGE, duplicate), {"q": "quin", "survivor": str(keep.id), "mode": "reversible"})
    assert unconfirmed.status_code == 400 and b"Confirm that both charts are the same person." in unconfirmed.content
    assert not PatientMerge.objects.exists(), "nothing moves before the confirmation"
    done = client.post(url(MERGE, duplicate), {"q": "quin", "survivor": str(keep.id), "mode": "reversible", "confirm": "on"})
    assert done.status_code == 302 and done["Location"] == url("records:chart", keep)
    assert Patient.objects.get(id=duplicate.id).is_active is False
    page = client.get(done["Location"]).content.decode()
    assert 'data-testid="merges"' in page and "Undo merge" in page and "salbutamol" not in page  # the overview shows no clinical list
    assert "salbutamol" in client.get(url("records:chart-clinical", keep)).content.decode()


def test_undo_from_the_survivors_overview_puts_the_chart_back(signed_in, chart, world):
    keep, duplicate = _pair(chart, world)
    client = signed_in(Role.CLINICIAN)
    client.post(url(MERGE, duplicate), {"q": "quin", "survivor": str(keep.id), "mode": "reversible", "confirm": "on"})
    merge = PatientMerge.objects.get()
    undone = client.post(url(CLOSE, keep), {"merge_id": str(merge.pk), "action": "undo"})
    assert undone.status_code == 302 and undone["Location"] == url("records:chart", duplicate)
    assert "salbutamol" in client.get(url("records:chart-clinical", duplicate)).content.decode()
    assert PatientMerge.objects.get().state == "undone" and entries(AuditEvent.PATIENTS_MERGE_UNDONE)


def test_make_final_and_a_merge_of_another_chart_is_not_found(signed_in, chart, world):
    keep, duplicate = _pair(chart, world)
    client = signed_in(Role.OWNER)
    client.post(url(MERGE, duplicate), {"q": "quin", "survivor": str(keep.id), "mode": "reversible", "confirm": "on"})
    merge = PatientMerge.objects.get()
    with assert_no_writes():
        elsewhere = client.post(url(CLOSE, duplicate), {"merge_id": str(merge.pk), "action": "final"})
    assert elsewhere.status_code in (403, 404), "closed from the chart it went into (the duplicate is out of the register)"
    assert client.post(url(CLOSE, keep), {"merge_id": str(merge.pk), "action": "final"}).status_code == 302
    assert PatientMerge.objects.get().state == "final" and entries(AuditEvent.SUBJECT_SHREDDED)[-1].subject_id == duplicate.id
    assert "Undo merge" not in client.get(url("records:chart", keep)).content.decode()


def test_hostile_or_empty_posts_are_messages_and_change_nothing(signed_in, chart, world):
    keep, duplicate = _pair(chart, world)
    client = signed_in(Role.CLINICIAN)
    for data in ({}, {"survivor": "not-a-uuid", "confirm": "on", "mode": "reversible"}, {"survivor": str(duplicate.id), "confirm": "on", "mode": "x"}):
        response = client.post(url(MERGE, duplicate), data)
        assert response.status_code == 400, data
    same = client.post(url(MERGE, duplicate), {"survivor": str(duplicate.id), "confirm": "on", "mode": "reversible"})
    assert same.status_code == 400 and b"cannot be merged into itself" in same.content
    with assert_no_writes():
        assert client.post(url(CLOSE, keep), {"merge_id": "x", "action": "undo"}).status_code == 400
    assert not PatientMerge.objects.exists()
