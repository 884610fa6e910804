"""Adding an allergy from the clinical tab."""

from __future__ import annotations

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from tests.records.conftest import entries, url
from tests.security.routes_helpers import assert_no_writes

ADD = "records:allergy-add"


def test_a_clinician_adds_an_allergy(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    response = client.post(url(ADD, patient), {"allergy-substance": "Latex", "allergy-category": "environment",
                                               "allergy-criticality": "high", "allergy-reaction": "hives"})  # fmt: skip
    assert response.status_code == 302
    body = client.get(url("records:chart-clinical", patient)).content.decode()
    assert "Latex" in body and "hives" in body
    assert entries(AuditEvent.CHART_CHANGED)[-1].fields_changed == ["allergies"]


def test_an_allergy_without_a_substance_or_with_an_unknown_kind_is_refused(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    with assert_no_writes():
        response = client.post(url(ADD, patient), {"allergy-substance": "", "allergy-category": "gossip", "allergy-criticality": "low"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Enter what the patient is allergic to." in body and "Choose a kind from the list." in body


def test_billing_cannot_add_an_allergy(signed_in, patient):
    client = signed_in(Role.BILLING)
    with assert_no_writes():
        assert client.post(url(ADD, patient), {"allergy-substance": "Latex"}).status_code == 403
