"""CON1 at the desk, at phone width: the front desk opens the chart's "Messages and
notifications", records that the patient agreed to texts by phone with the prefilled words, and
the page then says who recorded it and when. Axe-clean at 390 px, no sideways scrolling."""

from __future__ import annotations

import os

from django.urls import reverse
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE


def _axe_clean(page) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["width"] <= PHONE["width"], overflow
    violations = page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS])
    assert violations == [], violations


def test_con1_the_front_desk_records_an_agreement_to_texts_at_phone_width(browser, live_server, clinic):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        browser_sign_in(page, clinic.users[Role.FRONT_DESK])
        page.goto(reverse("messaging:chart-notifications", kwargs={"patient_id": clinic.patient.pk}))
        texts = page.get_by_test_id("consent-sms_texts")
        expect(page.get_by_test_id("consent-state-sms_texts")).to_have_text("Not agreed")
        texts.get_by_text("Record that they agreed").click()
        expect(texts.get_by_label("Exact words you read or showed to the patient")).to_contain_text("Reply STOP to stop")
        expect(texts.get_by_label("By phone")).to_be_checked()
        _axe_clean(page)
        if os.environ.get("CONFIDE_SCREENSHOT"):
            page.screenshot(path=os.environ["CONFIDE_SCREENSHOT"], full_page=True)
        page.get_by_test_id("consent-submit-sms_texts").click()
        expect(page.get_by_role("status")).to_contain_text("agreement recorded")
        expect(page.get_by_test_id("consent-state-sms_texts")).to_contain_text("by phone, recorded by Farah Frontdesk")
        expect(page.get_by_test_id("consent-sms_texts").get_by_text("Record that they withdrew")).to_be_visible()
        _axe_clean(page)
    finally:
        context.close()
