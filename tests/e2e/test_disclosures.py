"""DSC1 in the browser: the privacy officer records a paper release on a patient; the patient
sees it in the portal's "Disclosures of your record" (axe-clean, 390 px)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in
from tests.factories import TEST_PASSWORD

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_JS = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


PHONE = {"width": 390, "height": 844}


def _clean(page) -> None:
    assert page.evaluate(AXE_JS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_dsc1_the_privacy_officer_records_a_disclosure_and_the_patient_sees_it(browser, live_server, clinic, make_staff, page_problems):
    from confide.accounts.models import LinkKind, PortalLink, User, UserKind
    from confide.core.tenancy import tenant_context

    officer = make_staff(clinic.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    with tenant_context(practice_id=clinic.practice.id):
        user = User.objects.create_user(email="marisol@portal.example.test", password=TEST_PASSWORD, display_name="Marisol", kind=UserKind.PATIENT)
        PortalLink.objects.create(practice_id=clinic.practice.id, user=user, patient_id=clinic.patient.pk, kind=LinkKind.SELF)

    staff_context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    staff_context.set_default_timeout(10_000)
    staff_context.add_init_script(path=str(AXE))
    try:
        page = staff_context.new_page()
        page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
        browser_sign_in(page, officer)
        page.goto(f"/patients/{clinic.patient.id}/disclosures/")
        page.get_by_role("link", name="Record a disclosure").click()
        page.get_by_label("Recipient (a person or an organisation)").fill("Alameda County Public Health")
        page.get_by_label("What was disclosed").fill("Immunization history")
        page.get_by_label("Purpose").fill("Mandatory report")
        page.get_by_label("Basis").select_option("public_health")
        _clean(page)
        page.get_by_role("button", name="Record the disclosure").click()
        expect(page.get_by_test_id("disclosure-entry").first).to_contain_text("Alameda County Public Health")
        _clean(page)
    finally:
        staff_context.close()

    portal_context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    portal_context.set_default_timeout(10_000)
    portal_context.add_init_script(path=str(AXE))
    try:
        page = portal_context.new_page()
        page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
        page.goto("/portal/signin/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url("**/portal/")
        page.goto("/portal/privacy/#disclosures")
        entry = page.get_by_test_id("disclosure-entry")
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("Alameda County Public Health")
        expect(entry).to_contain_text("Public health reporting")
        _clean(page)
    finally:
        portal_context.close()
    assert page_problems.page_errors == []
