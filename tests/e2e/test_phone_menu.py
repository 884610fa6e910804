"""The header on a phone (issue 12 item 17): the menu folds behind a real button, opens and
closes with it (and Escape), and the practice switcher inside is a usable control, not an
empty box; at desktop width the same links are shown without a button."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in
from tests.factories import PracticeFactory

PHONE = {"width": 390, "height": 844}


def test_the_menu_folds_behind_a_button_on_a_phone_and_the_practice_switcher_is_usable(page, page_problems, e2e_world):
    from confide.core.tenancy import tenant_context
    from tests.factories import MembershipFactory

    owner = e2e_world.users[Role.OWNER]
    north = PracticeFactory(slug="demo-north", name="Demo Physio North")
    with tenant_context(practice_id=north.id):
        MembershipFactory(user=owner, practice=north, role=Role.CLINICIAN)

    page.set_viewport_size(PHONE)
    browser_sign_in(page, owner)
    page.wait_for_url(re.compile(r".*/(practices/)?$"))
    menu_button = page.get_by_role("button", name="Menu")
    main_nav = page.get_by_role("navigation", name="Main")
    expect(menu_button).to_be_visible()
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(main_nav).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    menu_button.click()
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    expect(main_nav.get_by_role("link", name="Patients")).to_be_visible()
    switcher = page.get_by_role("form", name="Switch practice").get_by_label("Practice")
    expect(switcher).to_be_visible()
    expect(switcher.locator("option:checked")).to_have_text("Demo Family Therapy")
    assert switcher.bounding_box()["width"] >= 150  # not collapsed to an empty box
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    main_nav.get_by_role("link", name="Patients").focus()
    page.keyboard.press("Escape")
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(menu_button).to_be_focused()
    expect(main_nav).to_be_hidden()

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(menu_button).to_be_hidden()
    expect(main_nav.get_by_role("link", name="Patients")).to_be_visible()
    assert page_problems.all() == []
