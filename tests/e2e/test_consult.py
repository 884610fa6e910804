"""The online consultation in a real browser: a visitor sends one with a photo; a minor's without
a guardian is refused with nothing kept; a clinician reviews it and accepts it into a chart."""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.e2e.conftest import browser_sign_in
from tests.records.uploads import png_bytes


def _fill(page, born: datetime.date) -> None:
    page.get_by_label("First name").fill("Noor")
    page.get_by_label("Last name").fill("Haddad")
    page.get_by_label("Date of birth").fill(born.isoformat())
    page.get_by_label("Email", exact=True).fill("noor.haddad@example.test")
    page.get_by_label("What would you like help with?").fill("An itchy rash on both forearms")
    page.get_by_label("How long has this been going on?").select_option("A few weeks")
    page.get_by_label("I have read this and I agree.").check()


def test_a_visitor_consults_with_a_photo_and_a_clinician_accepts_it(page, page_problems, e2e_world, live_server):
    from confide.records.models import IntakeSubmission, Patient

    cache.clear()
    url = f"/p/{e2e_world.practice.slug}/consult/"
    today = timezone.now().date()

    # A minor without a guardian (the default rule: under 18 a parent or guardian must act): refused, nothing kept.
    page.goto(url)
    _fill(page, today.replace(year=today.year - 15))
    page.get_by_role("button", name="Send my consultation").click()
    expect(page.get_by_role("alert")).to_contain_text("a parent or guardian must give their name")
    with tenant_context(practice_id=e2e_world.practice.id):
        assert not IntakeSubmission.objects.exists()
    # The browser reports the page's own 400 status as a console error; that one is expected.
    assert page_problems.all() == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page_problems.console_errors.clear()

    # An adult, with a photo.
    page.goto(url)
    _fill(page, today.replace(year=today.year - 34))
    page.get_by_label("A photo, if it helps (JPEG or PNG)").set_input_files({"name": "arm.png", "mimeType": "image/png", "buffer": png_bytes()})
    page.get_by_role("button", name="Send my consultation").click()
    expect(page.get_by_test_id("received")).to_be_visible()

    # The clinician reviews it and accepts it.
    browser_sign_in(page, e2e_world.users[Role.CLINICIAN])
    page.goto("/intake/")
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultation from Noor Haddad")
    photo = page.get_by_alt_text("A photo, if it helps (JPEG or PNG)")
    expect(photo).to_be_visible()
    expect(photo).to_have_js_property("naturalWidth", 8)  # the decrypted image really loaded
    page.get_by_role("button", name="Accept into a new chart").click()
    expect(page.get_by_text("The consultation is now part of the patient's chart")).to_be_visible()
    with tenant_context(practice_id=e2e_world.practice.id):
        assert Patient.objects.count() == 1
        assert IntakeSubmission.objects.get().status == "accepted"
    assert page_problems.all() == []
