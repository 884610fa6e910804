"""Password reset in a real browser (issue 12, item 3): the lockout page and the sign-in page
lead to it; the link from the e-mail opens the new-password page; the new password signs in and
the authenticator is still asked for before the dashboard. And the recovery codes page (item 4):
copy, download as a text file, print only the codes, all by keyboard. Phone width, no overflow."""

from __future__ import annotations

import re
import time

from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.factories import TEST_PASSWORD

NEW_PASSWORD = "Lantern-Orchard-Velvet-42"


def _run_tasks() -> None:
    from unittest import mock

    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def _fits_phone_width(page, *, main_only: bool = False) -> None:
    """No horizontal overflow at 390 px, the whole page (the header folds behind its Menu button)."""
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url
    page.set_viewport_size({"width": 1200, "height": 800})


def _fresh_code(device) -> str:
    """A code for a time step the device has not used yet (each step's code works once)."""
    device.refresh_from_db()
    while int(time.time()) // 30 <= device.last_t:
        time.sleep(0.5)
    return device.current_code()


def test_reset_from_the_lockout_page_then_sign_in_still_asks_for_the_code(page, page_problems, e2e_world, live_server, settings):
    settings.CONFIDE_BASE_URL = live_server.url
    clinician, device = e2e_world.users[Role.CLINICIAN], e2e_world.devices[Role.CLINICIAN]

    # Locked out after repeated wrong passwords: the page offers the reset.
    for attempt in range(settings.AXES_FAILURE_LIMIT + 1):
        page.goto("/signin/")
        page.get_by_label("Email").fill(clinician.email)
        page.get_by_label("Password").fill(f"wrong-password-{attempt}")
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Too many failed sign-ins")).to_be_visible()
    _fits_phone_width(page)
    page.get_by_role("link", name="Reset it by e-mail").click()

    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    _fits_phone_width(page)
    page.get_by_label("Email").fill(clinician.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    _fits_phone_width(page)

    _run_tasks()  # the worker sends the e-mail
    [message] = mail.outbox
    link = re.search(r"http://\S+", message.body).group(0)
    assert link.startswith(f"{live_server.url}/signin/reset/link/?")
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert "t=" not in page.url  # the token moved into the session
    _fits_phone_width(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password, again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()

    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    page.get_by_label("Email").fill(clinician.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()  # MFA still asked for
    page.goto("/")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code").fill(_fresh_code(device))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")

    # The link is used: opening it again says so.
    page.goto(link)
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    _fits_phone_width(page, main_only=True)  # signed in now: the header is item 17's
    # The lockout (429) and the used link (400) are answers with a status, which Chromium notes.
    expected = re.compile(r"Failed to load resource: the server responded with a status of (429|400)")
    assert [problem for problem in page_problems.all() if not expected.match(problem)] == []


def test_recovery_codes_copy_download_and_print_by_keyboard(page, page_problems, e2e_world, live_server):
    from tests.e2e.conftest import browser_sign_in

    owner = e2e_world.users[Role.OWNER]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    browser_sign_in(page, owner, password=TEST_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")
    page.goto("/account/security/")
    page.get_by_role("button", name="New recovery codes").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = [c.strip() for c in page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()]
    assert len(codes) == 10

    copy = page.get_by_role("button", name="Copy codes")
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Copied 10 codes")
    assert page.evaluate("navigator.clipboard.readText()").split("\n") == codes

    page.keyboard.press("Tab")  # the next control is the download button
    assert page.evaluate("document.activeElement.textContent") == "Download as a text file"
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    assert download.suggested_filename == "confide-recovery-codes.txt"
    with open(download.path(), encoding="utf-8") as downloaded:
        text = downloaded.read()
    assert owner.email in text and all(code in text for code in codes)

    # Printed: the codes and their heading only.
    page.emulate_media(media="print")
    visible = "el => getComputedStyle(el).visibility"
    assert page.get_by_test_id("recovery-codes").evaluate(visible) == "visible"
    assert page.locator("h1").evaluate(visible) == "hidden"
    assert page.locator("a.btn-primary").evaluate(visible) == "hidden"
    assert page.locator("header").evaluate(visible) == "hidden"
    page.emulate_media(media="screen")
    _fits_phone_width(page, main_only=True)
    assert page_problems.all() == []
