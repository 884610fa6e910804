"""The chart through a real browser: a clinician signs in (password + code), finds a patient,
adds a medication, writes, signs and amends a note; the front desk has no notes tab; billing
never reaches a photo; and no page breaks the Content Security Policy."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import VIEWPORT, browser_sign_in


def _csp_violations(problems) -> list[str]:
    return [p for p in problems.all() if "Content Security Policy" in p or "Refused to" in p]


def _page_for(browser, live_server, problems):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda msg: problems.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.page_errors.append(str(exc)))
    return context, page


def test_a_clinician_finds_a_patient_adds_a_medication_and_signs_a_note_with_an_addendum(page, page_problems, clinic, live_server):
    browser_sign_in(page, clinic.users[Role.CLINICIAN])
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Search patients").fill("Quintero")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/patients/")):  # see below
        page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("patient-row")).to_have_count(1)
    assert "Quintero" not in page.url  # the search was posted, not put in the address
    page.get_by_role("link", name="Marisol Quintero (Mari)").click()  # the preferred name in parentheses

    expect(page.get_by_test_id("patient-name")).to_have_text("Marisol Quintero (Mari)")  # the same as in the list
    response = page.reload()
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    tabs = page.get_by_role("navigation", name="Chart sections").get_by_role("link")
    expect(tabs).to_have_text(["Overview", "Clinical", "Notes", "Psychotherapy notes", "Documents", "Consultations", "Privacy"])

    # A medication.
    page.get_by_role("link", name="Clinical", exact=True).click()
    expect(page.get_by_role("link", name="Clinical", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_text("Add a medication").click()
    page.locator("#id_medication-name").fill("Sertraline")
    page.locator("#id_medication-dose").fill("50 mg daily")
    page.locator("#id_medication-route").fill("oral")
    page.locator("#id_medication-start").fill("2026-01-05")
    page.get_by_role("button", name="Add medication").click()
    expect(page.get_by_role("status")).to_contain_text("Medication added.")
    medications = page.locator("#medications tbody tr")
    expect(medications.first).to_contain_text("Sertraline")
    expect(medications.first).to_contain_text("50 mg daily")

    # A note, signed, then amended.
    page.get_by_role("link", name="Notes", exact=True).click()
    page.get_by_role("link", name="New SOAP note").click()
    page.get_by_label("Subjective").fill("Sleeping better since the new dose.")
    page.get_by_label("Plan").fill("Review in four weeks.")
    page.get_by_role("button", name="Save draft").click()
    note = page.get_by_test_id("note").first
    expect(note).to_contain_text("Draft")
    note.get_by_role("link", name="Sign…").click()
    expect(page.get_by_role("heading", name="Sign this note?")).to_be_visible()
    page.get_by_role("button", name="Sign and lock").click()
    note = page.get_by_test_id("note").first
    expect(note.get_by_test_id("intact")).to_have_text("Signature check: content intact")
    expect(note.get_by_role("link", name="Edit draft")).to_have_count(0)
    note.get_by_role("link", name="Add addendum").click()
    page.get_by_role("textbox", name="Addendum").fill("Patient called: mild nausea, resolved.")
    page.get_by_role("button", name="Sign addendum").click()
    addendum = page.get_by_test_id("note").first.get_by_test_id("addendum")
    expect(addendum).to_contain_text("Patient called: mild nausea, resolved.")
    expect(addendum.get_by_test_id("intact")).to_be_visible()

    assert re.search(r"/patients/[0-9a-f-]{36}/notes/", page.url)
    assert page_problems.all() == []


def test_front_desk_has_no_notes_tab_and_billing_never_reaches_a_photo(browser, live_server, page_problems, clinic):
    chart = f"/patients/{clinic.patient.id}/"

    context, page = _page_for(browser, live_server, page_problems)
    try:
        browser_sign_in(page, clinic.users[Role.FRONT_DESK])
        page.goto(chart)
        expect(page.get_by_test_id("patient-name")).to_have_text("Marisol Quintero (Mari)")
        tabs = page.get_by_role("navigation", name="Chart sections").get_by_role("link")
        expect(tabs).to_have_text(["Overview"])
        expect(page.get_by_text("CA D1234567")).to_have_count(0)  # not given; but the registration is shown
        expect(page.get_by_text("Rosa Quintero")).to_be_visible()
        refused = page.goto(chart + "notes/")
        assert refused.status == 403
        expect(page.get_by_role("heading", name="You do not have permission for this")).to_be_visible()
    finally:
        context.close()

    context, page = _page_for(browser, live_server, page_problems)
    try:
        browser_sign_in(page, clinic.users[Role.BILLING])
        page.goto(chart)
        expect(page.get_by_test_id("insurance")).to_contain_text("Acme Health")
        tabs = page.get_by_role("navigation", name="Chart sections").get_by_role("link")
        expect(tabs).to_have_text(["Overview"])
        for address in (f"{chart}photos/{clinic.photo.pk}/", f"{chart}photos/{clinic.photo.pk}/image/", chart + "documents/"):
            assert page.goto(address).status == 403, address
        expect(page.get_by_text("Rash, left arm")).to_have_count(0)
    finally:
        context.close()

    assert _csp_violations(page_problems) == []
    # The only complaints are the refused pages themselves (403 responses).
    assert all("status of 403" in p for p in page_problems.all()), page_problems.all()


def test_a_photo_opens_on_a_page_of_its_own_without_breaking_the_policy(page, page_problems, clinic):
    browser_sign_in(page, clinic.users[Role.CLINICIAN])
    page.goto(f"/patients/{clinic.patient.id}/documents/")
    photos = page.get_by_test_id("photos")
    expect(photos).to_contain_text("Rash, left arm")
    photos.get_by_role("link", name="View", exact=True).click()
    image = page.get_by_role("img", name="Rash, left arm")
    expect(image).to_be_visible()
    image.evaluate("img => img.decode()")  # resolves once the picture has loaded and decoded (rejects if it cannot)
    assert image.evaluate("img => img.naturalWidth") == 8
    assert page_problems.all() == []


def test_a_registration_form_saved_after_a_colleagues_change_says_what_changed_and_saves_on_the_second_try(page, page_problems, clinic):
    """REC4 in the browser: the front desk opens the form, the owner changes the phone meanwhile;
    saving says so, shows the new phone in the form, keeps the e-mail typed, and saving again
    keeps both."""
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_update_patient

    browser_sign_in(page, clinic.users[Role.FRONT_DESK])
    page.goto(f"/patients/{clinic.patient.id}/edit/")
    expect(page.locator("#id_phone")).to_have_value("(415) 555-0142")  # stored in E.164, shown as people read it
    with tenant_context(practice_id=clinic.practice.id):
        owner = StaffActor.from_membership(Membership.objects.get(user=clinic.users[Role.OWNER], practice=clinic.practice))
        do_update_patient(actor=owner, patient_id=clinic.patient.id, reason="patient_request", phone="+1 415 555 0177")

    page.locator("#id_email").fill("marisol.q@example.test")
    page.get_by_label("The patient asked for this change").check()
    page.get_by_role("button", name="Save changes").click()
    stale = page.locator("#form-stale")
    expect(stale).to_contain_text("Nothing was saved: this record changed after you opened the form.")
    expect(stale).to_contain_text("Phone is now (415) 555-0177")
    expect(page.locator("#id_phone")).to_have_value("(415) 555-0177")
    expect(page.locator("#id_email")).to_have_value("marisol.q@example.test")

    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.get_by_text("marisol.q@example.test")).to_be_visible()
    expect(page.get_by_text("(415) 555-0177")).to_be_visible()
    assert _csp_violations(page_problems) == []
    # The only complaint is the refused save itself (a 409 response).
    assert all("status of 409" in p for p in page_problems.all()), page_problems.all()


def _no_horizontal_overflow(page) -> None:
    """Nothing of the page is wider than a 390 px phone (the header folds behind its Menu button)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url


def test_a_front_desk_finds_a_patient_by_the_beginning_of_a_name_and_a_clinician_stops_a_medication_with_change(
    page, page_problems, clinic
):
    """Item 14 and 15 in the browser, at phone width: "mari quin" finds Marisol Quintero; on the
    clinical tab each row has one keyboard-operable "Change…" with a clinical reason."""
    page.set_viewport_size({"width": 390, "height": 800})
    browser_sign_in(page, clinic.users[Role.CLINICIAN])
    page.goto("/patients/")
    page.get_by_label("Search patients").fill("mari quin")
    # Wait for the search's own answer: the unfiltered list already has one row, and a navigation
    # while the search is in flight would share the live server's one SQLite connection with it.
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/patients/")):
        page.get_by_label("Search patients").press("Enter")
    expect(page.get_by_test_id("patient-row")).to_have_count(1)
    expect(page.get_by_test_id("patient-row")).to_contain_text("Marisol Quintero (Mari)")
    expect(page.get_by_test_id("patient-row")).to_contain_text("(415) 555-0142")
    _no_horizontal_overflow(page)

    page.goto(f"/patients/{clinic.patient.id}/clinical/")
    row = page.locator("#medications tbody tr").filter(has_text="salbutamol")
    change = row.locator("summary", has_text="Change…")
    change.focus()
    page.keyboard.press("Enter")  # a native disclosure: the keyboard opens it
    form = row.get_by_role("form", name="Change salbutamol")
    expect(form).to_be_visible()
    _no_horizontal_overflow(page)
    form.get_by_label("Stopped").check()
    form.get_by_label("Why").select_option(label="Side effects")
    form.get_by_role("button", name="Save change").click()
    expect(page.get_by_role("status")).to_contain_text("Marked stopped.")
    row = page.locator("#medications tbody tr").filter(has_text="salbutamol")
    expect(row.get_by_test_id("status-reason")).to_have_text("Side effects")
    _no_horizontal_overflow(page)
    assert page_problems.all() == []
