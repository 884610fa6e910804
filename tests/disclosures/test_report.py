"""DSC1: the accounting (§164.528): six years or a shorter period (D1), excluded bases left out
of the patient's copy but shown to the privacy officer (D2), each entry's content (D4), repeat
disclosures to one recipient for one purpose aggregated (D5); PDF and JSON."""

from __future__ import annotations

import datetime
import json

import time_machine

from confide.core.permissions import Role
from confide.disclosures import report
from confide.disclosures import staff as disc
from confide.disclosures.services import record_disclosure
from tests.disclosures.conftest import NOW


def _record(world, patient, when, *, recipient="County Health Department", purpose="Notifiable disease report", basis="public_health"):
    return record_disclosure(
        practice_id=world.a.practice.id, patient_id=patient.pk, basis=basis, source="manual", recipient=recipient,
        recipient_address="1 Main St", description="Immunizations", purpose=purpose, disclosed_at=when,
    )  # fmt: skip


def test_dsc1_six_year_window_aggregation_and_exclusions(world, staff, patient):
    with time_machine.travel(NOW, tick=False):
        _record(world, patient, NOW - datetime.timedelta(days=6 * 365 + 30))  # too old: out (D1)
        _record(world, patient, NOW - datetime.timedelta(days=900))
        _record(world, patient, NOW - datetime.timedelta(days=600), recipient="county health  department")  # same (D5)
        _record(world, patient, NOW - datetime.timedelta(days=300))
        _record(world, patient, NOW - datetime.timedelta(days=200), recipient="Dr. Other", purpose="Second opinion", basis="authorization")
        _record(world, patient, NOW - datetime.timedelta(days=100), recipient="Acme Insurance", purpose="Life insurance", basis="other_provider")
        patients_copy = report.accounting_for_patient(practice_id=world.a.practice.id, patient_id=patient.pk)
        officers = disc.get_patient_disclosures(actor=staff(Role.PRIVACY_OFFICER), patient_id=patient.pk).accounting
        shorter = report.accounting_for_patient(practice_id=world.a.practice.id, patient_id=patient.pk, since=(NOW - datetime.timedelta(days=400)).date())
    first, second = patients_copy.entries
    assert first.recipient == "County Health Department" and first.count == 3
    assert first.disclosed_at == NOW - datetime.timedelta(days=900) and first.last_at == NOW - datetime.timedelta(days=300)
    assert (first.recipient_address, first.description, first.purpose, first.basis_label) == (
        "1 Main St", "Immunizations", "Notifiable disease report", "Public health reporting")
    assert second.recipient == "Acme Insurance" and second.count == 1 and second.last_at is None
    assert patients_copy.disclosures == 4
    assert [e.recipient for e in officers.entries] == ["County Health Department", "Dr. Other", "Acme Insurance"]
    assert [e.excluded for e in officers.entries] == [False, True, False]
    assert [(e.recipient, e.count) for e in shorter.entries] == [("County Health Department", 1), ("Acme Insurance", 1)]


def test_dsc1_an_earlier_start_than_six_years_is_cut_to_six(world):
    with time_machine.travel(NOW, tick=False):
        start, end = report.period(datetime.date(2000, 1, 1), None)
    assert start == NOW - report.SIX_YEARS and end == NOW


def test_dsc1_the_pdf_and_json_render(world, staff, patient):
    with time_machine.travel(NOW, tick=False):
        _record(world, patient, NOW - datetime.timedelta(days=10))
        accounting = report.accounting_for_patient(practice_id=world.a.practice.id, patient_id=patient.pk)
    pdf = report.render_pdf(accounting, practice_name="Practice A", patient_name="Marisol Quintero")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    data = json.loads(report.as_json(accounting))
    assert data["entries"][0]["recipient"] == "County Health Department" and data["entries"][0]["count"] == 1
    html = report.render_html(accounting, practice_name="Practice A")
    assert "County Health Department" in html and "Public health reporting" in html


def test_dsc1_an_empty_accounting_says_so(world, patient):
    accounting = report.accounting_for_patient(practice_id=world.a.practice.id, patient_id=patient.pk)
    assert accounting.is_empty and "No disclosures" in report.render_html(accounting, practice_name="Practice A")
