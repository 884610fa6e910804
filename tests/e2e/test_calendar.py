"""Issue 16, Done when: the front desk books, moves (the move form, then a drag) and cancels an
appointment from the week view; two browsers racing for one slot: one books it, the other sees
"no longer free"; the week view and the agenda pass axe at 390 px without sideways scrolling."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE

ZONE = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def calendar(clinic):
    """The clinic's calendar: an office, one type, and next Tuesday (a date after today)."""
    from confide.accounts.models import Membership
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import AppointmentType, Location

    with tenant_context(practice_id=clinic.practice.id):
        Location.objects.create(practice=clinic.practice, name="Main office")
        AppointmentType.objects.create(practice=clinic.practice, name="Therapy session", duration_minutes=50, colour="#2b6cb0")
        clinician = Membership.objects.get(user=clinic.users[Role.CLINICIAN], practice=clinic.practice)
    today = timezone.now().astimezone(ZONE).date()
    tuesday = today + datetime.timedelta(days=(1 - today.weekday()) % 7 + 7)
    return clinician, tuesday


def _context(browser, live_server, width=None):
    context = browser.new_context(base_url=live_server.url, viewport=width or {"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    return context


def _axe_clean(page) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["width"] <= PHONE["width"], overflow
    violations = page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS])
    assert violations == [], violations


def _open_book_form(page, clinician, day):
    page.goto(f"/calendar/?view=week&date={day.isoformat()}&clinician={clinician.pk}")
    page.get_by_role("link", name=f"Book {day:%A} {day.day} {day:%B} 10:00", exact=True).click()
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()
    page.get_by_label("Patient", exact=True).select_option(label="Marisol Quintero (Mari)")


def test_the_front_desk_books_moves_and_cancels_from_the_week_view(browser, live_server, clinic, calendar):
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import Appointment, Status

    clinician, tuesday = calendar
    context = _context(browser, live_server)
    page = context.new_page()
    try:
        browser_sign_in(page, clinic.users[Role.FRONT_DESK])
        _open_book_form(page, clinician, tuesday)
        assert page.get_by_label("Start time").input_value() == "10:00"
        page.get_by_role("button", name="Book", exact=True).click()
        expect(page.get_by_test_id("appointment-when")).to_contain_text("10:00–10:50")

        page.get_by_label("Start time").fill("11:30")  # the keyboard path: the move form
        page.get_by_role("button", name="Move", exact=True).click()
        expect(page.get_by_test_id("appointment-when")).to_contain_text("11:30–12:20")

        page.goto(f"/calendar/?view=week&date={tuesday.isoformat()}&clinician={clinician.pk}")
        block = page.get_by_test_id("appointment-block")
        expect(block).to_contain_text("Marisol Quintero (Mari)")
        expect(block).to_contain_text("11:30–12:20")

        # Drag it two 15-minute rows down (calendar.js posts the move endpoint; the page reloads).
        row = page.evaluate("document.querySelector('.cal-cell').getBoundingClientRect().height / 2")
        box = block.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + 8
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y + row, steps=4)
        page.mouse.move(x, y + 2 * row, steps=4)
        page.mouse.up()
        expect(page.locator("#cal-live")).to_contain_text("Moved")
        expect(page.get_by_test_id("appointment-block")).to_contain_text("12:00–12:50")
        block = page.get_by_test_id("appointment-block")
        block.click()
        page.get_by_label("Why").select_option("patient_request")
        page.get_by_role("button", name="Cancel the appointment").click()
        expect(page.get_by_test_id("appointment-status")).to_contain_text("Cancelled")
    finally:
        context.close()
    with tenant_context(practice_id=clinic.practice.id):
        (appointment,) = Appointment.objects.all()
    assert appointment.status == Status.CANCELLED and appointment.version == 4
    assert appointment.starts_at.astimezone(ZONE).strftime("%H:%M") == "12:00"


def test_two_browsers_race_for_one_slot_one_books_it(browser, live_server, clinic, calendar):
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import Appointment

    clinician, tuesday = calendar
    contexts = [_context(browser, live_server) for _ in range(2)]
    try:
        pages = [c.new_page() for c in contexts]
        browser_sign_in(pages[0], clinic.users[Role.FRONT_DESK])
        browser_sign_in(pages[1], clinic.users[Role.OWNER])
        for page in pages:
            _open_book_form(page, clinician, tuesday)
        pages[0].get_by_role("button", name="Book", exact=True).click()
        pages[1].get_by_role("button", name="Book", exact=True).click()
        expect(pages[0].get_by_test_id("appointment-when")).to_contain_text("10:00–10:50")
        expect(pages[1].locator(".invalid-feedback")).to_contain_text("no longer free")
    finally:
        for c in contexts:
            c.close()
    with tenant_context(practice_id=clinic.practice.id):
        assert Appointment.objects.count() == 1


def test_week_view_and_agenda_at_phone_width_are_axe_clean(browser, live_server, clinic, calendar):
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.scheduling import services
    from confide.scheduling.models import AppointmentType

    clinician, _ = calendar
    today = timezone.now().astimezone(ZONE).date()
    with tenant_context(practice_id=clinic.practice.id):
        kind = AppointmentType.objects.get()
        starts = datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(10), tzinfo=ZONE).astimezone(datetime.UTC)
        services.book(StaffActor.from_membership(clinician), patient_id=clinic.patient.pk, clinician_id=clinician.pk,
                      appointment_type_id=kind.pk, starts_at=starts)  # fmt: skip
    context = _context(browser, live_server, PHONE)
    page = context.new_page()
    try:
        browser_sign_in(page, clinic.users[Role.CLINICIAN])
        page.goto(f"/calendar/?view=week&date={(today + datetime.timedelta(days=1)).isoformat()}")
        expect(page.get_by_test_id("appointment-block")).to_contain_text("Marisol")
        _axe_clean(page)
        page.goto("/calendar/agenda/")
        expect(page.get_by_test_id("agenda-list")).to_contain_text("10:00–10:50")
        _axe_clean(page)
    finally:
        context.close()
