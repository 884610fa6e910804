"""Editing a patient's registration (REC4): a reason, required and never preselected; "nothing
changed" said plainly; a bad value changes nothing; only the fields the role may write."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.chart import get_editable
from tests.records.conftest import HOSTILE, assert_escaped, entries, url
from tests.security.routes_helpers import assert_no_writes

EDIT = "records:patient-edit"


def _values(chart, world):
    with tenant_context(practice_id=world.a.practice.id):
        return get_editable(chart.actor(Role.FRONT_DESK), chart.patient.id, "registration").values


def test_the_form_shows_the_current_values_and_no_reason_is_chosen_in_advance(signed_in, patient):
    body = signed_in(Role.FRONT_DESK).get(url(EDIT, patient)).content.decode()
    assert 'value="Marisol"' in body and 'value="CA D1234567"' in body and 'value="Rosa Quintero"' in body
    assert body.count('name="reason"') == 3 and "checked" not in body.split('name="reason"', 1)[1].split("</fieldset>")[0]
    assert 'name="payer"' not in body and 'name="health_background"' not in body


def test_rec4_an_edit_without_a_reason_is_refused_and_changes_nothing(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+1 415 555 0177"}
    del data["reason"]
    for reason in ({}, {"reason": ""}, {"reason": "new_entry"}, {"reason": "because I said so"}):
        with assert_no_writes():
            response = client.post(url(EDIT, patient), data | reason)
        assert response.status_code == 400, reason
        assert b"Say why the record changes" in response.content
    assert _values(chart, world)["phone"] == "+1 415 555 0142"


def test_rec4_an_edit_with_a_reason_is_recorded_with_its_field_names_and_never_its_values(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+1 415 555 0177", "reason": "patient_request"}
    response = client.post(url(EDIT, patient), data)
    assert response.status_code == 302 and response["Location"] == url("records:chart", patient)
    assert _values(chart, world)["phone"] == "+1 415 555 0177"
    change = entries(AuditEvent.CHART_CHANGED)[-1]
    assert (change.fields_changed, change.reason, change.purpose) == (["phone"], "patient_request", "operations")
    assert "555 0177" not in str(change.detail)


def test_nothing_changed_is_a_clear_message_and_writes_nothing(signed_in, chart, patient):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK)
    with assert_no_writes():
        response = client.post(url(EDIT, patient), data)
    assert response.status_code == 200 and b"Nothing changed: the record already holds these values." in response.content


def test_a_bad_value_changes_nothing_not_even_the_good_ones(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+1 415 555 0177", "email": "not an email", "reason": "patient_request"}
    with assert_no_writes():
        response = client.post(url(EDIT, patient), data)
    assert response.status_code == 400 and b"Enter an email address" in response.content
    assert _values(chart, world)["phone"] == "+1 415 555 0142"


def test_removing_the_guardian_clears_it(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"reason": "patient_request"}
    for key in ("guardian_name", "guardian_relationship", "guardian_phone", "guardian_email"):
        data.pop(key, None)
    assert client.post(url(EDIT, patient), data).status_code == 302
    assert _values(chart, world)["guardian"] is None
    assert entries(AuditEvent.CHART_CHANGED)[-1].fields_changed == ["guardian"]


def test_fields_the_form_does_not_have_are_never_changed_by_posting_them(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"reason": "patient_request", "health_background": "smuggled",
                                                                       "payer": "Evil Health", "member_id": "1"}  # fmt: skip
    with assert_no_writes():
        response = client.post(url(EDIT, patient), data)
    assert response.status_code == 200 and b"Nothing changed" in response.content


def test_billing_cannot_edit_the_registration(signed_in, patient):
    client = signed_in(Role.BILLING)
    with assert_no_writes():
        assert client.get(url(EDIT, patient)).status_code == 403
        assert client.post(url(EDIT, patient), {"given_name": "X", "family_name": "Y", "reason": "patient_request"}).status_code == 403


def test_values_come_back_escaped(signed_in, chart, patient):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"preferred_name": HOSTILE, "email": "bad"}
    assert_escaped(client.post(url(EDIT, patient), data).content.decode())
