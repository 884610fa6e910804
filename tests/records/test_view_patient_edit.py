"""Editing a patient's registration (REC4): a reason, required and never preselected; "nothing
changed" said plainly; a bad value changes nothing; only the fields the role may write."""

from __future__ import annotations

import html
import re

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.chart import get_editable
from confide.records.services import do_add_item, do_update_patient
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
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+14155550177"}
    del data["reason"]
    for reason in ({}, {"reason": ""}, {"reason": "new_entry"}, {"reason": "because I said so"}):
        with assert_no_writes():
            response = client.post(url(EDIT, patient), data | reason)
        assert response.status_code == 400, reason
        assert b"Say why the record changes" in response.content
    assert _values(chart, world)["phone"] == "+14155550142"


def test_rec4_an_edit_with_a_reason_is_recorded_with_its_field_names_and_never_its_values(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+14155550177", "reason": "patient_request"}
    response = client.post(url(EDIT, patient), data)
    assert response.status_code == 302 and response["Location"] == url("records:chart", patient)
    assert _values(chart, world)["phone"] == "+14155550177"
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
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+14155550177", "email": "not an email", "reason": "patient_request"}
    with assert_no_writes():
        response = client.post(url(EDIT, patient), data)
    assert response.status_code == 400 and b"Enter an email address" in response.content
    assert _values(chart, world)["phone"] == "+14155550142"


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


# --- a form loaded before someone else's change (REC4: never overwrite what you did not see) ---------
def _saved_elsewhere(chart, world, role=Role.OWNER, **changes):
    with tenant_context(practice_id=world.a.practice.id):
        do_update_patient(actor=chart.actor(role), patient_id=chart.patient.id, reason="patient_request", **changes)


def _stale_notice(body: str) -> str:
    return body.split('id="form-stale"', 1)[1].split("</div>", 1)[0]


def _shown_again(body: str) -> dict:
    """The form as shown after a stale save: its inputs' values (what "save again" posts)."""
    fields = dict(re.findall(r'<input type="(?:text|email|hidden|date)" name="([a-z_0-9]+)" value="([^"]*)"', body))
    return {k: html.unescape(v) for k, v in fields.items() if k != "csrfmiddlewaretoken"}


def test_rec4_a_save_from_a_stale_form_writes_nothing_says_what_changed_and_asks_again(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    loaded = chart.edit_form_data("registration", Role.FRONT_DESK) | {"email": "new@example.test", "reason": "patient_request"}
    _saved_elsewhere(chart, world, phone="+14155550177")
    with assert_no_writes():
        response = client.post(url(EDIT, patient), loaded)
    assert response.status_code == 409
    body = response.content.decode()
    notice = _stale_notice(body)
    assert "Nothing was saved: this record changed after you opened the form." in body
    assert "<strong>Phone</strong> is now <q>(415) 555-0177</q>" in notice and "The form below now shows it." in notice
    shown = _shown_again(body)
    assert shown["phone"] == "(415) 555-0177"  # the other change, so that saving again keeps it
    assert shown["email"] == "new@example.test"  # what was typed here, kept
    assert shown["version"] != loaded["version"]  # the version of the record as it is now
    assert (_values(chart, world)["phone"], _values(chart, world)["email"]) == ("+14155550177", "marisol@example.test")
    # Saving the form as shown again: this edit lands, the other one stays.
    again = client.post(url(EDIT, patient), loaded | shown)  # the selects and the reason as they were
    assert again.status_code == 302
    assert (_values(chart, world)["phone"], _values(chart, world)["email"]) == ("+14155550177", "new@example.test")
    assert entries(AuditEvent.CHART_CHANGED)[-1].fields_changed == ["email"]


def test_rec4_two_people_changing_the_same_field_is_a_conflict_shown_with_both_values(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    loaded = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+14155550188", "reason": "patient_request"}
    _saved_elsewhere(chart, world, phone="+14155550177")
    response = client.post(url(EDIT, patient), loaded)
    assert response.status_code == 409
    notice = _stale_notice(response.content.decode())
    assert "<strong>Phone</strong> is now <q>(415) 555-0177</q>" in notice and "You changed it too" in notice
    assert _shown_again(response.content.decode())["phone"] == "+14155550188"  # yours, to compare and decide
    assert _values(chart, world)["phone"] == "+14155550177"


def test_who_changed_it_is_shown_only_to_a_role_that_reads_the_records_history(signed_in, chart, patient, world):
    owner_name = world.a.user(Role.OWNER).display_name
    for role, sees in ((Role.FRONT_DESK, False), (Role.CLINICIAN, True)):
        loaded = chart.edit_form_data("registration", role) | {"pronouns": f"they/them ({role.value})", "reason": "patient_request"}
        _saved_elsewhere(chart, world, language=f"lang-{role.value}")
        notice = _stale_notice(signed_in(role).post(url(EDIT, patient), loaded).content.decode())
        assert f"lang-{role.value}" in notice and "(changed" in notice  # when, for everyone
        assert (f"by {owner_name}" in notice) is sees, role


def test_rec4_a_registration_edit_is_not_refused_because_someone_added_an_allergy(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    loaded = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+14155550166", "reason": "patient_request"}
    with tenant_context(practice_id=world.a.practice.id):
        do_add_item(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, list_name="allergies", item={"substance": "latex"})
    assert client.post(url(EDIT, patient), loaded).status_code == 302
    assert _values(chart, world)["phone"] == "+14155550166"


def test_a_damaged_forged_or_missing_version_is_a_400_with_a_message_and_writes_nothing(signed_in, chart, patient, world):
    client = signed_in(Role.FRONT_DESK)
    data = chart.edit_form_data("registration", Role.FRONT_DESK) | {"phone": "+14155550155", "reason": "patient_request"}
    for version in ("garbage", "1." + "0" * 16, "1." + "x" * 17 * 16, "", None, "v" * 5000):
        posted = {k: v for k, v in (data | {"version": version}).items() if v is not None}
        with assert_no_writes():
            response = client.post(url(EDIT, patient), posted)
        assert response.status_code == 400, version
        assert b"This form&#x27;s version is damaged or missing: nothing was saved." in response.content
    assert _values(chart, world)["phone"] == "+14155550142"
