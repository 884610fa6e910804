"""Issue 17, queue part, in the browser: the privacy officer opens the queue at phone width (axe
clean, no sideways scrolling), opens a request, extends it with a reason, and sees the extension
notice in the letters and the timeline."""

from __future__ import annotations

import datetime
from pathlib import Path

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_JS = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


def _phone_page(browser, live_server, page_problems):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
    return context, page


def _check(page) -> None:
    assert page.evaluate(AXE_JS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_rts1_the_privacy_officer_extends_a_request_from_the_queue(browser, live_server, clinic, make_staff, page_problems):
    from django.utils import timezone

    from confide.core.tenancy import tenant_context
    from confide.rights.models import RightsRequest

    officer = make_staff(clinic.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    today = timezone.localdate()
    with tenant_context(practice_id=clinic.practice.id):
        RightsRequest.objects.create(practice=clinic.practice, patient_id=clinic.patient.pk, kind="see", channel="phone", verification="staff",
                                     received_at=timezone.now(), due_on=today + datetime.timedelta(days=30), regimes=["hipaa"])  # fmt: skip
        RightsRequest.objects.create(practice=clinic.practice, kind="delete", channel="web_form", received_at=timezone.now(),
                                     due_on=today - datetime.timedelta(days=2))  # fmt: skip
    context, page = _phone_page(browser, live_server, page_problems)
    try:
        browser_sign_in(page, officer)
        page.goto("/rights/requests/")
        rows = page.get_by_test_id("rights-request")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("2 days overdue")
        expect(rows.first).to_contain_text("Not yet verified")
        expect(rows.nth(1)).to_contain_text("due in 30 days")
        expect(page.get_by_test_id("backlog-chart")).to_be_visible()
        _check(page)

        rows.nth(1).get_by_test_id("open-request").click()
        page.wait_for_url("**/rights/requests/*/")
        page.get_by_label("because").select_option("complexity")
        page.get_by_role("button", name="Extend and send the notice").click()
        page.wait_for_url("**/rights/requests/*/")
        expect(page.get_by_test_id("extended-due-on")).to_contain_text("the request is complex")
        expect(page.get_by_test_id("letters")).to_contain_text("Extension notice")
        expect(page.get_by_test_id("timeline")).to_contain_text("Extension notice letter kept")
        expect(page.get_by_test_id("timeline")).to_contain_text("Extended the deadline of a privacy request")
        expect(page.get_by_test_id("extend-blocked")).to_contain_text("Already extended once")
        _check(page)

        page.get_by_test_id("letters").get_by_role("link", name="Extension notice").click()
        expect(page.get_by_test_id("letter-text")).to_contain_text("The request is complex")
        _check(page)
    finally:
        context.close()
    assert page_problems.page_errors == []
