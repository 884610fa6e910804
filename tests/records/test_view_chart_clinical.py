"""The clinical tab: the lists (medications, allergies, conditions, results with units,
immunizations, encounters, procedures) and the health background, for clinical roles only."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.records.services import do_set_item_status
from tests.records.conftest import denied, tab_names, url

CLINICAL = "records:chart-clinical"


def test_a_clinician_sees_every_list_and_results_with_their_units(signed_in, patient):
    page = signed_in(Role.CLINICIAN).get(url(CLINICAL, patient))
    assert page.status_code == 200
    body = page.content.decode()
    for shown in ("asthma since childhood", "salbutamol", "100 mcg as needed", "penicillin", "Asthma", "195967001",
                  "Peak flow", "410 L/min", "Influenza, seasonal", "General examination", "Spirometry"):  # fmt: skip
        assert shown in body, shown
    assert "Add a medication" in body and "Add an allergy" in body and "Add a condition" in body


def test_the_clinical_tab_opens_exactly_its_categories_for_treatment(signed_in, patient):
    signed_in(Role.CLINICIAN).get(url(CLINICAL, patient))
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).latest("id")
    assert opened.purpose == "treatment"
    assert sorted(opened.categories) == [
        "health.allergies", "health.background", "health.conditions", "health.encounters", "health.immunizations",
        "health.lab_results", "health.medications", "identifiers.dob", "identifiers.name",
    ]  # fmt: skip


def test_front_desk_never_sees_the_clinical_tab(signed_in, patient):
    client = signed_in(Role.FRONT_DESK)
    assert "clinical" not in tab_names(client.get(url("records:chart", patient)).content.decode())
    before = len(denied())
    page = client.get(url(CLINICAL, patient))
    assert page.status_code == 403 and b"salbutamol" not in page.content
    [refusal] = denied()[before:]
    assert (refusal.actor_role, refusal.reason, refusal.subject_id) == ("front_desk", "category_not_granted", patient.id)


def test_billing_never_sees_the_clinical_tab(signed_in, patient):
    client = signed_in(Role.BILLING)
    assert "clinical" not in tab_names(client.get(url("records:chart", patient)).content.decode())
    assert client.get(url(CLINICAL, patient)).status_code == 403
    assert denied()[-1].actor_role == "billing"


def test_an_item_entered_in_error_stays_on_the_list_marked_and_struck_through(signed_in, chart, patient, in_a):
    item = chart.medication_id
    do_set_item_status(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, list_name="medications", item_id=item,
                       status="entered-in-error", reason="error_correction")  # fmt: skip
    body = signed_in(Role.CLINICIAN).get(url(CLINICAL, patient)).content.decode()
    assert "salbutamol" in body and 'class="entered-in-error"' in body and "entered in error" in body
    assert f'name="item_id" value="{item}"' not in body  # nothing further to mark


def test_roles_that_only_read_see_no_forms(signed_in, patient, world):
    # The owner writes (so sees the forms); nobody else reaches the tab (tested above).
    body = signed_in(Role.OWNER).get(url(CLINICAL, patient)).content.decode()
    assert "Add a medication" in body and 'action="/patients/' in body


def test_units_are_shown_as_people_read_them_not_as_ucum_codes(signed_in, chart, patient, in_a):
    from confide.records.services import do_add_item

    clinician = chart.actor(Role.CLINICIAN)
    do_add_item(actor=clinician, patient_id=patient.id, list_name="lab_results", item={
        "name": "Blood pressure", "components": [{"name": "Systolic", "value": 128, "unit": "mm[Hg]"},
                                                 {"name": "Diastolic", "value": 82, "unit": "mm[Hg]"}]})  # fmt: skip
    do_add_item(actor=clinician, patient_id=patient.id, list_name="lab_results", item={"name": "PHQ-9", "value": 7, "unit": "{score}"})
    do_add_item(actor=clinician, patient_id=patient.id, list_name="lab_results", item={"name": "Temperature", "value": 37.2, "unit": "Cel"})
    body = signed_in(Role.CLINICIAN).get(url(CLINICAL, patient)).content.decode()
    assert "Systolic 128 mmHg; Diastolic 82 mmHg" in body and "37.2 °C" in body
    assert "mm[Hg]" not in body and "{score}" not in body and "Cel<" not in body
    assert "<td>7 </td>" in body, "a score is a number without a unit"


def test_each_row_has_one_change_action_a_disclosure_without_script(signed_in, chart, patient):
    body = signed_in(Role.CLINICIAN).get(url(CLINICAL, patient)).content.decode()
    rows = body.count('<details class="change-item">')
    assert rows >= 5 and body.count("Change…") == rows, "one Change… per item"
    assert '<button class="btn btn-sm btn-outline-secondary" type="submit">Mark</button>' not in body
    change = body[body.index('<details class="change-item">'):]
    change = change[: change.index("</details>")]
    assert 'type="radio" name="status"' in change and 'required' in change and "<script" not in change
    assert "Side effects" in change and "Correcting an error" in change, "clinical and correction reasons, apart"
    assert ' style="' not in body and " onclick=" not in body
