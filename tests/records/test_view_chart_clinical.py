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
