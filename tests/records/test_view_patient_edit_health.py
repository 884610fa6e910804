"""Editing the health background (clinical roles, treatment, with a REC4 reason)."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from tests.records.conftest import HOSTILE, assert_escaped, entries, url
from tests.security.routes_helpers import assert_no_writes

EDIT = "records:patient-edit-health"


def test_a_clinician_edits_the_health_background_with_a_reason(signed_in, chart, patient):
    client = signed_in(Role.CLINICIAN)
    assert b"asthma since childhood" in client.get(url(EDIT, patient)).content
    version = chart.edit_form_data("health", Role.CLINICIAN)["version"]
    response = client.post(url(EDIT, patient), {"health_background": "Asthma since childhood; " + HOSTILE, "reason": "error_correction", "version": version})
    assert response.status_code == 302 and response["Location"] == url("records:chart-clinical", patient)
    change = entries(AuditEvent.CHART_CHANGED)[-1]
    assert (change.fields_changed, change.reason, change.purpose) == (["health_background"], "error_correction", "treatment")
    assert_escaped(client.get(url("records:chart-clinical", patient)).content.decode())


def test_rec4_without_a_reason_nothing_changes(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(EDIT, patient), {"health_background": "changed"})
    assert response.status_code == 400 and b"Say why the record changes" in response.content


def test_a_background_over_the_limit_is_refused(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(EDIT, patient), {"health_background": "x" * 20_001, "reason": "immaterial"})
    assert response.status_code == 400 and b"at most 20000 characters" in response.content


def test_front_desk_and_billing_cannot_edit_the_health_background(signed_in, patient):
    for role in (Role.FRONT_DESK, Role.BILLING):
        client = signed_in(role)
        with assert_no_writes():
            assert client.get(url(EDIT, patient)).status_code == 403
            assert client.post(url(EDIT, patient), {"health_background": "x", "reason": "immaterial"}).status_code == 403


def test_rec4_a_save_from_a_form_loaded_before_another_change_is_refused_and_shows_the_current_text(signed_in, chart, patient, world):
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_update_patient

    client = signed_in(Role.CLINICIAN)
    version = chart.edit_form_data("health", Role.CLINICIAN)["version"]
    with tenant_context(practice_id=world.a.practice.id):
        do_update_patient(actor=chart.actor(Role.OWNER), patient_id=patient.id, reason="patient_request", health_background="Asthma, mild.")
    with assert_no_writes():
        response = client.post(url(EDIT, patient), {"health_background": "Asthma; hay fever.", "reason": "patient_request", "version": version})
    assert response.status_code == 409
    body = response.content.decode()
    assert "<strong>Health background</strong> is now <q>Asthma, mild.</q>" in body and "You changed it too" in body
    assert "Asthma; hay fever.</textarea>" in body  # yours, kept to compare
    assert "Asthma, mild." in client.get(url("records:chart-clinical", patient)).content.decode()


def test_a_damaged_version_is_a_400_with_a_message(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(EDIT, patient), {"health_background": "x", "reason": "immaterial", "version": "1.zz"})
    assert response.status_code == 400 and b"version is damaged or missing: nothing was saved" in response.content
