"""Marking an item of a clinical list stopped, resolved or entered-in-error (REC4: with a
reason; nothing is ever deleted)."""

from __future__ import annotations

import datetime

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.chart import get_clinical
from tests.records.conftest import entries, url
from tests.security.routes_helpers import assert_no_writes

STATUS = "records:item-status"


def _items(chart, world, list_name="medications"):
    with tenant_context(practice_id=world.a.practice.id):
        return get_clinical(chart.actor(Role.CLINICIAN), chart.patient.id).lists[list_name].items


def test_stopping_a_medication_records_the_reason_and_sets_the_end_date(signed_in, chart, patient, world):
    item_id = chart.medication_id
    response = signed_in(Role.CLINICIAN).post(url(STATUS, patient), chart.status_data("medications", item_id, "stopped"))
    assert response.status_code == 302
    [item] = _items(chart, world)
    assert (item.id, item.status, item.end) == (item_id, "stopped", datetime.date.today())
    change = entries(AuditEvent.CHART_CHANGED)[-1]
    assert (change.fields_changed, change.reason) == (["medications"], "patient_request")


def test_rec4_a_status_change_without_a_reason_is_refused_and_changes_nothing(signed_in, chart, patient):
    item_id, client = chart.medication_id, signed_in(Role.CLINICIAN)
    for reason in ("", "because", "new_entry"):  # new_entry adds; it never alters what is there
        with assert_no_writes():
            response = client.post(url(STATUS, patient), chart.status_data("medications", item_id, "stopped", reason))
        assert response.status_code == 400 and b"Say why the record changes" in response.content, reason


def test_an_item_entered_in_error_is_never_deleted(signed_in, chart, patient, world):
    client = signed_in(Role.CLINICIAN)
    allergy = _items(chart, world, "allergies")[0]
    client.post(url(STATUS, patient), chart.status_data("allergies", allergy.id, "entered-in-error", "error_correction"))
    [kept] = _items(chart, world, "allergies")
    assert (kept.id, kept.substance, kept.status) == (allergy.id, "penicillin", "entered-in-error")


def test_a_status_a_list_does_not_have_is_refused(signed_in, chart, patient, world):
    client = signed_in(Role.CLINICIAN)
    result = _items(chart, world, "lab_results")[0]
    with assert_no_writes():
        response = client.post(url(STATUS, patient), chart.status_data("lab_results", result.id, "stopped", "error_correction"))
    assert response.status_code == 400 and b"cannot be marked stopped" in response.content
    with assert_no_writes():
        response = client.post(url(STATUS, patient), chart.status_data("lab_results", result.id, "entered-in-error", "error_correction") | {"list_name": "notes"})
    assert response.status_code == 400 and b"That is not a list of the chart." in response.content


def test_an_unknown_item_is_a_404_and_changes_nothing(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(STATUS, patient), {"list_name": "medications", "item_id": "0" * 32, "status": "stopped",
                                                      "reason": "error_correction", "version": "1." + "0" * 16})  # fmt: skip
    assert response.status_code == 404


def test_marking_an_item_as_it_already_is_says_nothing_changed(signed_in, chart, patient):
    client, item_id = signed_in(Role.CLINICIAN), chart.medication_id
    data = chart.status_data("medications", item_id, "stopped")
    client.post(url(STATUS, patient), data)
    with assert_no_writes():
        again = client.post(url(STATUS, patient), data, follow=True)
    assert b"Nothing changed" in again.content


def test_front_desk_cannot_mark_an_item(signed_in, chart, patient):
    item_id, client = chart.medication_id, signed_in(Role.FRONT_DESK)
    with assert_no_writes():
        assert client.post(url(STATUS, patient), chart.status_data("medications", item_id, "stopped")).status_code == 403


def test_rec4_marking_an_item_someone_changed_since_the_page_loaded_is_refused_and_shows_it_again(signed_in, chart, patient, world):
    item_id, client = chart.medication_id, signed_in(Role.CLINICIAN)
    seen = chart.status_data("medications", item_id, "stopped")
    signed_in(Role.OWNER).post(url(STATUS, patient), seen | {"status": "entered-in-error", "reason": "error_correction"})
    with assert_no_writes():
        response = client.post(url(STATUS, patient), seen)
    assert response.status_code == 409
    body = response.content.decode()
    assert "This item changed since the page was loaded" in body and "mark it again if you still mean to" in body
    assert [item.status for item in _items(chart, world)] == ["entered-in-error"]


def test_a_damaged_or_missing_item_version_is_a_400_with_a_message(signed_in, chart, patient, world):
    item_id, client = chart.medication_id, signed_in(Role.CLINICIAN)
    for version in ({"version": "1.nothex"}, {"version": ""}, {}):
        data = {k: v for k, v in chart.status_data("medications", item_id, "stopped").items() if k != "version"} | version
        with assert_no_writes():
            response = client.post(url(STATUS, patient), data)
        assert response.status_code == 400 and b"version is damaged or missing: nothing was saved" in response.content, version
    assert [item.status for item in _items(chart, world)] == ["active"]


def test_stopping_a_medication_for_side_effects_is_a_care_update_with_its_clinical_reason(signed_in, chart, patient, world):
    item_id = chart.medication_id
    client = signed_in(Role.CLINICIAN)
    response = client.post(url(STATUS, patient), chart.status_data("medications", item_id, "stopped", "side-effects"))
    assert response.status_code == 302
    [item] = _items(chart, world)
    assert (item.status, item.status_reason, item.end) == ("stopped", "side-effects", datetime.date.today())
    change = entries(AuditEvent.CHART_CHANGED)[-1]
    assert (change.fields_changed, change.reason) == (["medications"], "care_update"), "the audit says care, never the clinical reason"
    assert "side" not in str(change.detail)
    page = client.get(url("records:chart-clinical", patient)).content.decode()
    assert 'data-testid="status-reason">Side effects</span>' in page


def test_a_clinical_reason_cannot_mark_an_item_entered_in_error(signed_in, chart, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(STATUS, patient), chart.status_data("medications", chart.medication_id, "entered-in-error", "side-effects"))
    assert response.status_code == 400 and b"corrects the record" in response.content


def test_a_clinical_reason_of_another_list_is_refused(signed_in, chart, patient, world):
    allergy, client = _items(chart, world, "allergies")[0], signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(STATUS, patient), chart.status_data("allergies", allergy.id, "resolved", "side-effects"))
    assert response.status_code == 400 and b"does not apply to this list" in response.content


def test_the_service_refuses_a_clinical_reason_for_a_correction(chart, patient, in_a):
    import pytest

    from confide.core.errors import InvalidInput
    from confide.records.services import do_set_item_status

    with pytest.raises(InvalidInput):
        do_set_item_status(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, list_name="medications",
                           item_id=chart.medication_id, status="entered-in-error", reason="ineffective")  # fmt: skip
