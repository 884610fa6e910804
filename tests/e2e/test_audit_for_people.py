"""The privacy officer answers "who opened this record?" in a real browser (issue 12 item 12):
finds the patient by name (names only), opens the audit log filtered to them, and reads each
entry in words — the event, the staff member by name and role, the result — on a page that
fits 1280 px without scrolling sideways, and 390 px too; copy-on-click ids run under the CSP."""

from __future__ import annotations

from playwright.sync_api import expect

from confide.core.permissions import Role


def _fits(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    # The content of the page (main): the navigation bar of base.html is wider than 390 px on every
    # staff page until the phone-width work (issue 12 item 17) gives it a menu button.
    assert page.evaluate("document.querySelector('main').scrollWidth") <= width, f"the page's content is wider than {width} px"


def test_aud1_the_privacy_officer_finds_a_patient_by_name_and_sees_who_opened_the_record(page, page_problems, clinic, make_staff):
    from confide.access.door import open_chart
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.purposes import Purpose

    officer = make_staff(clinic.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    from confide.core.tenancy import tenant_context

    with tenant_context(practice_id=clinic.practice.id):
        clinician = StaffActor.from_membership(Membership.objects.get(user=clinic.users[Role.CLINICIAN]))
    with open_chart(clinician, clinic.patient.id, Purpose.TREATMENT, categories={"identifiers.name", "health.allergies"}):
        pass

    from tests.e2e.conftest import browser_sign_in

    browser_sign_in(page, officer)
    page.goto("/audit/")
    page.get_by_test_id("find-patient").click()
    page.get_by_label("Name, date of birth (YYYY-MM-DD), e-mail or phone").fill("Quintero")
    page.get_by_role("button", name="Find").click()
    assert "Quintero" not in page.url  # the search was posted
    expect(page.get_by_test_id("found-patient")).to_have_text(["Marisol Quintero (Mari)"])
    expect(page.get_by_text("marisol@example.test")).to_have_count(0)  # the name only
    _fits(page, 390)
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Who opened this record").click()
    expect(page.get_by_test_id("filter-patient-name")).to_have_text("Marisol Quintero (Mari)")
    opened = page.locator('tr[data-event="records:chart:opened"]').filter(has_text="Chris Clinician")
    expect(opened.first).to_contain_text("Opened the chart")
    expect(opened.first.get_by_test_id("actor-role")).to_have_text("Clinician")
    expect(opened.first).to_contain_text("Marisol Quintero (Mari)")
    expect(page.get_by_text("records:chart:opened", exact=True)).to_have_count(0)  # no raw event codes
    _fits(page, 1280)
    _fits(page, 390)
    page.set_viewport_size({"width": 1280, "height": 800})

    # An id of no patient (here: a made-up one) is shortened; a click copies the whole id.
    import uuid

    from confide.audit.chain import record
    from confide.audit.events import AuditEvent

    ghost = uuid.uuid4()
    record(AuditEvent.CHART_OPENED, practice_id=clinic.practice.id, actor=clinician, purpose="treatment", subject_id=ghost, categories=["identifiers.name"])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/audit/")
    button = page.locator(f'button.copy-id[data-copy="{ghost}"]')
    expect(button).to_contain_text(str(ghost)[:8] + "…")
    button.click()
    expect(button).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == str(ghost)
    assert page_problems.all() == []
