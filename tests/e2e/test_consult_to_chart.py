"""REC2 in a real browser: a visitor fills the public consultation form (reason, duration, an
allergy, a medicine with its dose and kind, a preferred call time, a photo); a clinician accepts
it from the queue; every answer is then on the chart's tabs and in the FHIR export. The form and
the queue fit a 390 px phone screen."""

from __future__ import annotations

import datetime
import json

from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.e2e.conftest import browser_sign_in
from tests.records.uploads import png_bytes

PHONE = {"width": 390, "height": 844}


def _no_horizontal_overflow(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_rec2_a_consultation_from_the_public_form_reaches_the_chart_and_the_export_whole(page, page_problems, e2e_world, live_server, tmp_path):
    from confide.records import fhir
    from confide.records.models import Patient

    cache.clear()
    today = timezone.now().date()
    page.set_viewport_size(PHONE)
    page.goto(f"/p/{e2e_world.practice.slug}/consult/")
    _no_horizontal_overflow(page)
    page.get_by_label("First name").fill("Noor")
    page.get_by_label("Last name").fill("Haddad")
    page.get_by_label("Date of birth").fill((today - datetime.timedelta(days=365 * 34)).isoformat())
    page.get_by_label("Email", exact=True).fill("noor.haddad@example.test")
    page.get_by_label("What would you like help with?").fill("An itchy rash on both forearms")
    page.get_by_label("How long has this been going on?").select_option("A few weeks")
    page.get_by_label("Medicine 1", exact=True).fill("Ibuprofen")
    page.get_by_label("Dose of medicine 1").fill("200 mg twice a day")
    page.get_by_label("Type of medicine 1").select_option("Over the counter")
    page.get_by_label("Allergies, if any").fill("Penicillin")
    page.get_by_label("When may we call you?").select_option("Evenings")
    page.get_by_label("A photo, if it helps (JPEG or PNG)").set_input_files({"name": "arm.png", "mimeType": "image/png", "buffer": png_bytes()})
    page.get_by_label("I have read this and I agree.").check()
    page.get_by_role("button", name="Send my consultation").click()
    expect(page.get_by_test_id("received")).to_be_visible()

    # The clinician finds it in the queue (name, age band, reason) and accepts it.
    browser_sign_in(page, e2e_world.users[Role.CLINICIAN])
    page.goto("/intake/")
    row = page.get_by_test_id("intake-row")
    expect(row).to_contain_text("Noor Haddad")
    expect(row).to_contain_text("30–44")
    expect(row).to_contain_text("An itchy rash on both forearms")
    _no_horizontal_overflow(page)
    page.get_by_role("link", name="Review the consultation from Noor Haddad").click()
    page.get_by_role("button", name="Accept into a new chart").click()
    expect(page.get_by_text("The consultation is now part of the patient's chart")).to_be_visible()

    # Every answer in its place on the chart.
    page.get_by_test_id("tab-clinical").click()
    allergies = page.locator("#allergies")
    expect(allergies).to_contain_text("Penicillin")
    expect(allergies).not_to_contain_text("No allergies recorded")
    medicine = page.locator("#medications tr", has_text="Ibuprofen")
    expect(medicine).to_contain_text("200 mg twice a day")
    expect(medicine).to_contain_text("Over the counter")
    page.get_by_test_id("tab-consultations").click()
    summary = page.get_by_test_id("consultation-summary")
    expect(summary).to_contain_text("An itchy rash on both forearms")
    expect(summary).to_contain_text("A few weeks")
    expect(summary).to_contain_text("Evenings")
    expect(page.get_by_test_id("consultation")).to_contain_text("Asked with version 1 of the practice's consultation form")
    expect(page.get_by_test_id("consultation-answers")).to_contain_text("Penicillin")
    page.get_by_test_id("tab-documents").click()
    expect(page.get_by_test_id("photos")).to_contain_text("Consultation: A photo, if it helps (JPEG or PNG)")
    assert page_problems.all() == []

    # …and in the patient's FHIR export.
    with tenant_context(practice_id=e2e_world.practice.id):
        patient_id = Patient.objects.get().pk
    out = tmp_path / "record.json"
    fhir.do_export_patient(patient_id, out)
    resources = [entry["resource"] for entry in json.loads(out.read_text())["entry"]]
    by_type = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    assert [a["code"]["text"] for a in by_type["AllergyIntolerance"]] == ["Penicillin"]
    [statement] = by_type["MedicationStatement"]
    assert statement["medicationCodeableConcept"]["text"] == "Ibuprofen" and statement["dosage"][0]["text"] == "200 mg twice a day"
    assert {"otc", "patientspecified"} <= {c["code"] for c in statement["category"]["coding"]}
    [answers] = by_type["QuestionnaireResponse"]
    given = {item["linkId"]: item["answer"][0]["valueString"] for item in answers["item"]}
    assert given["reason"] == "An itchy rash on both forearms" and given["since"] == "A few weeks"
    assert given["allergies"] == "Penicillin" and given["contact_time"] == "Evenings"
