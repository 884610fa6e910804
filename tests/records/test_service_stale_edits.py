"""REC4: an edit made from a form loaded before someone else's change never silently overwrites
it. The form carries the versions of exactly the fields it edits (`current_versions`); the
service (`do_update_patient(expected=…)`, `do_set_item_status(expected=…)`) refuses a save whose
fields changed since, and writes nothing."""

from __future__ import annotations

import pytest

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.records import services
from confide.records.chart import get_clinical, get_editable
from confide.records.services import BadVersion, StaleEdit, do_add_item, do_set_item_status, do_update_patient
from tests.records.conftest import entries

pytestmark = pytest.mark.usefixtures("in_a")


def _registration(chart, role=Role.FRONT_DESK):
    return get_editable(chart.actor(role), chart.patient.id, "registration")


def _form_changes(editable, **typed) -> dict:
    """What a registration form posts: every field it edits, as loaded, with what was typed."""
    return {**editable.values, **typed}


def test_rec4_a_save_from_a_form_loaded_before_another_change_is_refused_and_writes_nothing(chart):
    desk = chart.actor(Role.FRONT_DESK)
    loaded = _registration(chart)
    do_update_patient(actor=chart.actor(Role.OWNER), patient_id=chart.patient.id, reason="patient_request", phone="+14155550177")
    before = len(entries(AuditEvent.CHART_CHANGED))
    expected = services.read_version_token(loaded.version, loaded.fields)
    with pytest.raises(StaleEdit) as stale:
        do_update_patient(actor=desk, patient_id=chart.patient.id, reason="patient_request", expected=expected,
                          **_form_changes(loaded, email="new@example.test"))  # fmt: skip
    assert (stale.value.fields, stale.value.mine) == (("phone",), ())
    now = _registration(chart).values
    assert (now["phone"], now["email"]) == ("+14155550177", "marisol@example.test")  # the other change stays, this one waits
    assert len(entries(AuditEvent.CHART_CHANGED)) == before


def test_rec4_two_edits_of_the_same_field_from_one_loaded_form_save_once_and_name_the_conflict(chart):
    loaded = _registration(chart)
    expected = services.read_version_token(loaded.version, loaded.fields)
    first = _form_changes(loaded, phone="+14155550101")
    do_update_patient(actor=chart.actor(Role.FRONT_DESK), patient_id=chart.patient.id, reason="patient_request", expected=expected, **first)
    with pytest.raises(StaleEdit) as stale:
        do_update_patient(actor=chart.actor(Role.OWNER), patient_id=chart.patient.id, reason="patient_request", expected=expected,
                          **_form_changes(loaded, phone="+14155550102"))  # fmt: skip
    assert (stale.value.fields, stale.value.mine) == (("phone",), ("phone",))
    assert _registration(chart).values["phone"] == "+14155550101"


def test_rec4_a_change_outside_the_forms_fields_does_not_make_it_stale(chart):
    """Per field set: an allergy added, the insurance changed, do not refuse a registration edit."""
    loaded = _registration(chart)
    do_add_item(actor=chart.actor(Role.CLINICIAN), patient_id=chart.patient.id, list_name="allergies", item={"substance": "latex"})
    do_update_patient(actor=chart.actor(Role.BILLING), patient_id=chart.patient.id, reason="patient_request",
                      insurance={"payer": "Other Health", "member_id": "Z-1"})  # fmt: skip
    do_update_patient(actor=chart.actor(Role.FRONT_DESK), patient_id=chart.patient.id, reason="patient_request",
                      expected=services.read_version_token(loaded.version, loaded.fields), **_form_changes(loaded, phone="+14155550103"))  # fmt: skip
    assert _registration(chart).values["phone"] == "+14155550103"
    assert [a.substance for a in get_clinical(chart.actor(Role.CLINICIAN), chart.patient.id).lists["allergies"].items] == ["latex", "penicillin"]


def test_a_version_survives_a_key_rotation_that_re_seals_every_field(chart, world):
    from confide.vault import rotation

    loaded = _registration(chart)
    rotation.rotate_subject(world.a.practice.id, chart.patient.id)
    assert _registration(chart).version == loaded.version


def test_a_version_holds_no_value_and_differs_between_patients(chart, staff, world):
    from confide.records.services import do_create_patient

    twin = do_create_patient(actor=chart.actor(Role.CLINICIAN), given_name="Marisol", family_name="Quintero", phone="+14155550142")
    one = services.read_version_token(_registration(chart).version, _registration(chart).fields)
    other = services.read_version_token(get_editable(chart.actor(Role.FRONT_DESK), twin.id, "registration").version, _registration(chart).fields)
    assert one["phone"] != other["phone"] and one["given_name"] != other["given_name"]  # the same values, other patients
    token = _registration(chart).version
    assert "0142" not in token and "Marisol" not in token and len(token) == 2 + 17 * len(_registration(chart).fields) - 1


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "2." + "0" * 16, "1." + "0" * 15, "1." + "G" * 16, "1." + ".".join(["0" * 16] * 3), None, 7, "1." * 5000],
)
def test_a_damaged_or_forged_version_is_bad_input(chart, token):
    with pytest.raises(BadVersion, match="Open the form again"):
        services.read_version_token(token, _registration(chart).fields)


def test_the_service_refuses_versions_that_do_not_cover_exactly_the_fields_sent(chart):
    loaded = _registration(chart)
    expected = services.read_version_token(loaded.version, loaded.fields)
    for bad in ({"phone": expected["phone"]}, {**expected, "phone": "not hex"}, [expected]):
        with pytest.raises(BadVersion):
            do_update_patient(actor=chart.actor(Role.FRONT_DESK), patient_id=chart.patient.id, reason="patient_request", expected=bad,
                              **_form_changes(loaded, phone="+14155550104"))  # fmt: skip
    assert _registration(chart).values["phone"] == "+14155550142"


# --- items of the clinical lists: a version per item --------------------------------------------
def _medication(chart):
    [medication] = get_clinical(chart.actor(Role.CLINICIAN), chart.patient.id).lists["medications"].items
    return medication


def test_rec4_marking_an_item_that_changed_since_the_page_was_loaded_is_refused(chart):
    item_id = chart.medication_id
    seen = chart.item_version("medications", item_id)
    clinician = chart.actor(Role.CLINICIAN)
    do_set_item_status(actor=clinician, patient_id=chart.patient.id, list_name="medications", item_id=item_id, status="entered-in-error",
                       reason="error_correction", expected=seen)  # fmt: skip
    with pytest.raises(StaleEdit) as stale:
        do_set_item_status(actor=chart.actor(Role.OWNER), patient_id=chart.patient.id, list_name="medications", item_id=item_id,
                           status="stopped", reason="patient_request", expected=seen)  # fmt: skip
    assert stale.value.item_id == item_id
    assert _medication(chart).status == "entered-in-error"


def test_rec4_an_item_is_not_stale_because_another_item_of_its_list_changed(chart):
    clinician = chart.actor(Role.CLINICIAN)
    item_id = chart.medication_id
    seen = chart.item_version("medications", item_id)
    do_add_item(actor=clinician, patient_id=chart.patient.id, list_name="medications", item={"name": "ibuprofen", "kind": "otc"})
    do_set_item_status(actor=clinician, patient_id=chart.patient.id, list_name="medications", item_id=item_id, status="stopped",
                       reason="patient_request", expected=seen)  # fmt: skip
    assert {m.name: m.status for m in get_clinical(clinician, chart.patient.id).lists["medications"].items} == {
        "salbutamol": "stopped", "ibuprofen": "active"}


@pytest.mark.parametrize("token", ["", "1.", "1." + "z" * 16, "0" * 18, "1." + "0" * 17])
def test_a_damaged_item_version_is_bad_input_and_changes_nothing(chart, token):
    with pytest.raises(BadVersion):
        do_set_item_status(actor=chart.actor(Role.CLINICIAN), patient_id=chart.patient.id, list_name="medications",
                           item_id=chart.medication_id, status="stopped", reason="patient_request", expected=token)  # fmt: skip
    assert _medication(chart).status == "active"
