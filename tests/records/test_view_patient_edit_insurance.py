"""Editing insurance (billing and the owner, purpose payment, with a REC4 reason)."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from tests.records.conftest import entries, url
from tests.security.routes_helpers import assert_no_writes

EDIT = "records:patient-edit-insurance"


def test_billing_changes_the_insurance_for_payment_with_a_reason(signed_in, chart, patient):
    client = signed_in(Role.BILLING)
    assert b'value="Acme Health"' in client.get(url(EDIT, patient)).content
    version = chart.edit_form_data("insurance", Role.BILLING)["version"]
    response = client.post(url(EDIT, patient), {"payer": "Acme Health", "member_id": "XJ-99813", "group": "G-12", "reason": "error_correction",
                                                 "version": version})  # fmt: skip
    assert response.status_code == 302
    assert b"XJ-99813" in client.get(url("records:chart", patient)).content
    change = entries(AuditEvent.CHART_CHANGED)[-1]
    assert (change.fields_changed, change.purpose, change.categories) == (["insurance"], "payment", ["financial.insurance"])


def test_an_insurer_needs_a_member_id_and_a_member_id_needs_an_insurer(signed_in, patient):
    client = signed_in(Role.BILLING)
    with assert_no_writes():
        one = client.post(url(EDIT, patient), {"payer": "Acme Health", "member_id": "", "reason": "patient_request"})
        other = client.post(url(EDIT, patient), {"payer": "", "member_id": "XJ-1", "reason": "patient_request"})
    assert one.status_code == other.status_code == 400
    assert b"Enter the member id" in one.content and b"Enter the insurer" in other.content


def test_clearing_every_field_removes_the_insurance(signed_in, chart, patient):
    client = signed_in(Role.OWNER)
    version = chart.edit_form_data("insurance", Role.OWNER)["version"]
    assert client.post(url(EDIT, patient), {"payer": "", "member_id": "", "group": "", "reason": "patient_request", "version": version}).status_code == 302
    # (billing sees insurance on the overview; the owner's overview links to the insurance page)
    assert b"No insurance on file." in signed_in(Role.BILLING).get(url("records:chart", patient)).content


def test_clinicians_and_front_desk_cannot_edit_insurance(signed_in, patient):
    for role in (Role.CLINICIAN, Role.FRONT_DESK):
        client = signed_in(role)
        with assert_no_writes():
            assert client.get(url(EDIT, patient)).status_code == 403


def test_rec4_a_save_from_a_form_loaded_before_another_change_is_refused_and_writes_nothing(signed_in, chart, patient, world):
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_update_patient

    client = signed_in(Role.BILLING)
    version = chart.edit_form_data("insurance", Role.BILLING)["version"]
    with tenant_context(practice_id=world.a.practice.id):
        do_update_patient(actor=chart.actor(Role.OWNER), patient_id=patient.id, reason="patient_request",
                          insurance={"payer": "Other Health", "member_id": "OH-7"})  # fmt: skip
    with assert_no_writes():
        response = client.post(url(EDIT, patient), {"payer": "Acme Health", "member_id": "XJ-99813", "group": "G-12",
                                                     "reason": "error_correction", "version": version})  # fmt: skip
    assert response.status_code == 409
    assert "<strong>Insurance</strong> is now <q>Other Health, OH-7</q>" in response.content.decode()
    assert b"OH-7" in client.get(url("records:chart", patient)).content


def test_a_missing_version_is_a_400_with_a_message(signed_in, patient):
    client = signed_in(Role.BILLING)
    with assert_no_writes():
        response = client.post(url(EDIT, patient), {"payer": "Acme Health", "member_id": "XJ-1", "reason": "error_correction"})
    assert response.status_code == 400 and b"version is damaged or missing: nothing was saved" in response.content
