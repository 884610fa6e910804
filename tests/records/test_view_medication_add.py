"""Adding a medication (name, dose, route, prescription/OTC, status, start) from the clinical tab."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.records.chart import get_clinical
from confide.core.tenancy import tenant_context
from tests.records.conftest import HOSTILE, assert_escaped, entries, url
from tests.security.routes_helpers import assert_no_writes

ADD = "records:medication-add"


def _medications(chart, world):
    with tenant_context(practice_id=world.a.practice.id):
        return get_clinical(chart.actor(Role.CLINICIAN), chart.patient.id).lists["medications"].items


def test_a_clinician_adds_an_otc_medication_recorded_as_a_new_entry(signed_in, chart, patient, world):
    response = signed_in(Role.CLINICIAN).post(url(ADD, patient), {
        "medication-name": "Ibuprofen", "medication-dose": "400 mg as needed", "medication-route": "oral",
        "medication-kind": "otc", "medication-status": "active", "medication-start": "2026-02-01",
    })  # fmt: skip
    assert response.status_code == 302 and response["Location"] == url("records:chart-clinical", patient) + "#medications"
    newest = _medications(chart, world)[0]
    assert (newest.name, newest.dose, newest.route, newest.kind, newest.status, str(newest.start)) == (
        "Ibuprofen", "400 mg as needed", "oral", "otc", "active", "2026-02-01")
    change = entries(AuditEvent.CHART_CHANGED)[-1]
    assert (change.fields_changed, change.reason, change.categories) == (["medications"], "new_entry", ["health.medications"])


def test_a_medication_without_a_name_is_refused_with_a_message_and_nothing_changes(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(ADD, patient), {"medication-name": "  ", "medication-kind": "otc", "medication-status": "active"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter the medication&#x27;s name." in body and 'aria-invalid="true"' in body and "<details class=\"add-item\" open>" in body


def test_a_bad_kind_status_or_date_is_refused_per_field(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(ADD, patient), {
            "medication-name": "Ibuprofen", "medication-kind": "smuggled", "medication-status": "entered-in-error",
            "medication-start": "31/02/2026",
        })  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 400
    assert "Choose prescription or over the counter." in body and "Choose a status from the list." in body
    assert "Enter the date as YYYY-MM-DD." in body


def test_front_desk_cannot_add_a_medication(signed_in, patient):
    client = signed_in(Role.FRONT_DESK)
    with assert_no_writes():
        assert client.post(url(ADD, patient), {"medication-name": "x", "medication-kind": "otc", "medication-status": "active"}).status_code == 403


def test_markup_in_a_medication_name_is_shown_as_text(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    client.post(url(ADD, patient), {"medication-name": HOSTILE, "medication-kind": "otc", "medication-status": "active"})
    assert_escaped(client.get(url("records:chart-clinical", patient)).content.decode())
