"""Issue 16, Done when: a visitor books a slot on the public website and staff accept it into a
chart (part "booking").

At phone width, without signing in, the visitor picks the kind of appointment and the clinician,
a free time, gives their details and the authorization, and is told the request was received.
The front desk signs in, opens "Booking requests", reviews the request, accepts it into a new
chart, and the appointment is in the calendar (the database: source "website", the slot the
visitor chose). Every page passes axe at 390 px and does not scroll sideways; the visitor's
canary details never reach the logs."""

from __future__ import annotations

import logging

from django.urls import reverse
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.conftest import CANARIES
from tests.e2e.conftest import browser_sign_in
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE


def _axe_clean(page) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["width"] <= PHONE["width"], overflow
    violations = page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS])
    assert violations == [], violations


def test_issue_16_a_visitor_books_a_slot_and_the_front_desk_accepts_it_into_a_chart(browser, live_server, clinic, caplog):
    from confide.accounts.models import Membership
    from confide.core.tenancy import tenant_context
    from confide.directory.models import BookingRequest
    from confide.scheduling.models import Appointment, Source
    from tests.directory.booking_world import open_for_booking

    caplog.set_level(logging.DEBUG)
    practice = clinic.practice
    with tenant_context(practice_id=practice.id):
        clinician = Membership.objects.get(user=clinic.users[Role.CLINICIAN], practice=practice)
    open_for_booking(practice, clinician)

    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        page.goto(reverse("directory:book", kwargs={"practice_slug": practice.slug}))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Book an appointment")
        _axe_clean(page)
        page.get_by_label("Kind of appointment").select_option(label="First session (50 minutes)")
        page.get_by_label("Clinician").select_option(label="Chris Clinician")
        page.get_by_role("button", name="See free times").click()
        expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
        _axe_clean(page)
        page.get_by_test_id("slot").first.click()
        expect(page.get_by_role("heading", name="Your details")).to_be_visible()
        chosen = page.get_by_test_id("chosen-slot").inner_text()
        _axe_clean(page)
        page.get_by_label("First name").fill("Zebulon")
        page.get_by_label("Last name").fill("Canarywood")
        page.get_by_label("Date of birth").fill(CANARIES["dob"])
        page.get_by_label("Email", exact=True).fill(CANARIES["email"])
        page.get_by_label("Phone", exact=True).fill(CANARIES["phone"])
        page.get_by_label("Reason for the appointment").fill(CANARIES["note"])
        page.get_by_label("I have read this and I agree.").check()
        page.get_by_role("button", name="Send my booking request").click()
        expect(page.get_by_test_id("received")).to_contain_text("staff confirm")
        _axe_clean(page)
    finally:
        context.close()
    with tenant_context(practice_id=practice.id):
        [request] = BookingRequest.objects.all()

    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        browser_sign_in(page, clinic.users[Role.FRONT_DESK])
        page.goto(reverse("directory:booking-requests"))
        row = page.get_by_test_id("booking-row")
        expect(row).to_contain_text("Zebulon Canarywood")
        expect(row).to_contain_text("Chris Clinician")
        _axe_clean(page)
        row.get_by_role("link", name="Review the request from Zebulon Canarywood").click()
        expect(page.get_by_test_id("requested-slot")).to_contain_text("First session with Chris Clinician")
        assert CANARIES["note"] not in page.content()  # the front desk never sees the reason
        _axe_clean(page)
        page.get_by_label("A new chart").check()
        page.get_by_role("button", name="Accept and book").click()
        page.wait_for_load_state()
        expect(page.locator("body")).to_contain_text("The appointment is booked")
    finally:
        context.close()

    with tenant_context(practice_id=practice.id):
        appointment = Appointment.objects.get(source=Source.WEBSITE)
        assert appointment.starts_at == request.starts_at and appointment.clinician_id == clinician.pk
        assert BookingRequest.objects.get(pk=request.pk).status == "accepted"
    assert "First session with Chris Clinician" in chosen
    for key in ("email", "phone", "note"):
        assert CANARIES[key] not in caplog.text
