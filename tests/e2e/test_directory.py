"""Issue 16, directory: a clinician fills in and publishes their profile; a visitor opens the
practice's team page at 390 px (axe clean, no sideways scrolling) and sees it."""

from __future__ import annotations

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE


def _axe_clean(page) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["width"] <= PHONE["width"], overflow
    violations = page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS])
    assert violations == [], violations


def test_dir1_a_clinician_publishes_the_profile_and_a_visitor_sees_it_at_phone_width(browser, live_server, e2e_world):
    from confide.core.tenancy import tenant_context
    from confide.directory.models import Website

    practice = e2e_world.practice
    with tenant_context(practice_id=practice.id):
        Website.objects.create(practice_id=practice.id, published=True, tagline="Family therapy in Springfield")
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US")  # the real CSP applies
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        browser_sign_in(page, e2e_world.users[Role.CLINICIAN])
        page.goto("/profile/")
        expect(page.get_by_role("heading", name="My profile", level=1)).to_be_visible()
        page.get_by_label("Name to show").fill("Dr. Chris Clinician")
        page.get_by_label("Credentials").fill("PsyD")
        page.get_by_label("Biography").fill("I work with families and teenagers.")
        page.get_by_label("Languages").fill("English, Portuguese")
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_role("status")).to_contain_text("saved")
        page.get_by_role("button", name="Publish my profile").click()
        expect(page.get_by_test_id("profile-status")).to_have_text("Published")

        visitor = context.browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US")
        visitor.add_init_script(path=str(AXE))
        public = visitor.new_page()
        public.goto(f"/p/{practice.slug}/team/")
        expect(public.get_by_role("heading", name="Our team", level=1)).to_be_visible()
        expect(public.get_by_test_id("team-member")).to_contain_text("Dr. Chris Clinician")
        _axe_clean(public)
        public.get_by_role("link", name="Dr. Chris Clinician").click()
        expect(public.get_by_test_id("practitioner")).to_contain_text("English, Portuguese")
        _axe_clean(public)
        public.goto(f"/p/{practice.slug}/")
        expect(public.get_by_role("heading", name=practice.name, level=1)).to_be_visible()
        _axe_clean(public)
        visitor.close()
    finally:
        context.close()
