"""AUD1 (issue 12 item 12): one page load of a chart tab adds ONE entry to the log — an opening
(records:chart:opened) for a role the tab is for, or one refusal (access:denied) for a role it
is not — never 2–4 (the owner's insurance and the author's psychotherapy notes were each a
second opening of the same page)."""

from __future__ import annotations

import pytest

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.records.conftest import url

TABS = ["records:chart", "records:chart-clinical", "records:chart-notes", "records:chart-documents", "records:chart-privacy",
        "records:chart-psychotherapy"]  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("tab", TABS)
def test_aud1_one_get_of_a_chart_tab_writes_one_entry(signed_in, chart, role, tab):
    patient = chart.patient
    chart.psychotherapy_note(Role.CLINICIAN, signed=True)
    chart.psychotherapy_note(Role.OWNER, signed=False)
    chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(role)
    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    response = client.get(url(tab, patient))
    written = list(AuditEntry.objects.filter(id__gt=last).values_list("event", flat=True))
    if response.status_code == 200:
        assert written == [AuditEvent.CHART_OPENED.value], (role, tab, written)
    else:  # refused by the route (no entry) or by the door (one access:denied entry)
        assert response.status_code == 403 and written in ([], [AuditEvent.ACCESS_DENIED.value]), (role, tab, written)


def test_aud1_the_psychotherapy_tab_is_one_opening_of_the_header_and_the_authors_own_notes(signed_in, chart):
    mine = chart.psychotherapy_note(Role.CLINICIAN, signed=True)
    chart.psychotherapy_note(Role.OWNER, signed=False)
    client = signed_in(Role.CLINICIAN)
    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    body = client.get(url("records:chart-psychotherapy", chart.patient)).content.decode()
    [opened] = AuditEntry.objects.filter(id__gt=last)
    assert opened.categories == ["health.psychotherapy_notes", "identifiers.dob", "identifiers.name"]
    assert opened.resource_ids == [str(mine.pk)]
    assert "Marisol Quintero" in body and body.count('data-testid="psychotherapy-note"') == 1


def test_the_owner_is_pointed_to_insurance_instead_of_a_second_opening(signed_in, chart):
    body = signed_in(Role.OWNER).get(url("records:chart", chart.patient)).content.decode()
    assert 'data-testid="insurance-elsewhere"' in body and "Acme Health" not in body
    assert url("records:patient-edit-insurance", chart.patient) in body
