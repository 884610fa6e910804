"""POL3 in a real browser: the public notice, read on a phone (390 px), says how the information
is protected — what the software does, and what the staff do for now — without sideways scrolling."""

from __future__ import annotations

from django.core.cache import cache
from playwright.sync_api import expect

from tests.factories import PracticeFactory


def test_pol3_the_notice_says_how_information_is_protected_and_fits_a_phone(page, page_problems, transactional_db):
    cache.clear()
    PracticeFactory(slug="phone", name="Phone Width Therapy")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/p/phone/privacy/")
    page.get_by_role("link", name="How it is protected").click()
    section = page.locator("section", has=page.get_by_role("heading", name="How your information is protected"))
    expect(section).to_be_visible()
    expect(section.get_by_test_id("protections")).to_contain_text("it can never be changed, only added to by a dated addendum")
    expect(section.get_by_test_id("protections")).to_contain_text("You can see who has opened your record")
    # Issue 17: rights requests are the software's now, said in its own words among the protections.
    expect(section.get_by_test_id("protections")).to_contain_text("on our website's privacy request form")
    expect(section.get_by_test_id("handled-by-staff")).to_contain_text("This software does not record sessions")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
