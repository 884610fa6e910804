"""Setting up a real practice in a browser (ACC1, ACC2): `confide practice create` → the owner's
invitation from the outbox → password and authenticator → the owner invites a clinician from
the staff page → the clinician accepts, enrols, signs in and reaches the dashboard. The new
pages have no horizontal overflow at 390 px."""

from __future__ import annotations

import base64
import re
import time
from urllib.parse import urlsplit

from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

PASSWORDS = {"owner": "Harbour-Lantern-Oyster-81", "clinician": "Willow-Compass-Ember-27"}
LINK = re.compile(r"https?://\S+/invite/\?token=\S+")


def _fits_390(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide at 390 px"
    page.set_viewport_size({"width": 1200, "height": 800})


def _code(secret: str, *, ahead: int = 0) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(base64.b32decode(secret.replace(" ", "")), step=30, t0=0, digits=6, drift=0)
    totp.time = time.time() + ahead
    return f"{totp.token():06d}"


def _link_for(email: str) -> str:
    message = next(m for m in reversed(mail.outbox) if m.to == [email])
    url = urlsplit(LINK.search(message.body).group(0))
    return f"{url.path}?{url.query}"


def _accept_and_enrol(page, link: str, name: str, password: str) -> str:
    """Open the invitation link, choose a password, set up the authenticator; its secret."""
    page.goto(link)
    assert "token=" not in page.url  # the token left the address for the session
    expect(page.get_by_role("heading", level=1)).to_contain_text("Join Harbour Physio")
    _fits_390(page)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Choose a password").fill(password)
    page.get_by_label("The password again").fill(password)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/signin/enrol/")
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    _fits_390(page)
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Code from your app").fill(_code(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("recovery-codes").get_by_role("listitem")).to_have_count(10)
    page.get_by_role("link", name="I have saved them — continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour Physio")
    return secret


def test_acc1_a_practice_is_created_its_owner_and_a_clinician_join_with_mfa(page, page_problems, browser, live_server, settings, transactional_db):
    settings.CONFIDE_BASE_URL = live_server.url
    # An empty server: the sign-in page offers the first-run page, which fits a phone.
    page.goto("/signin/")
    page.get_by_role("link", name="Set up your practice").click()
    expect(page.get_by_role("heading", name="Set up your practice")).to_be_visible()
    _fits_390(page)

    mail.outbox = []
    call_command("practice", "create", "--name", "Harbour Physio", "--slug", "harbour", "--owner-email", "hana@harbour.example.test")
    page.goto("/setup/")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page_problems.console_errors.clear()  # that 404 was asked for

    _accept_and_enrol(page, _link_for("hana@harbour.example.test"), "Hana Harbour", PASSWORDS["owner"])

    # The owner invites a clinician from the staff page.
    page.goto("/staff/")
    _fits_390(page)
    page.get_by_label("E-mail address").fill("cal@harbour.example.test")
    page.get_by_label("Role", exact=True).select_option(label="Clinician")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to cal@harbour.example.test.")).to_be_visible()
    expect(page.get_by_test_id("invitation-cal@harbour.example.test")).to_contain_text("Clinician")
    _fits_390(page)

    # The clinician, in a browser of their own.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 800}, locale="en-US")
    context.set_default_timeout(10_000)
    clinician = context.new_page()
    try:
        secret = _accept_and_enrol(clinician, _link_for("cal@harbour.example.test"), "Cal Clinician", PASSWORDS["clinician"])
        # Signs out, then in again with the password and a code (the next time step: each step works once).
        clinician.get_by_role("button", name="Sign out").click()
        clinician.get_by_label("Email").fill("cal@harbour.example.test")
        clinician.get_by_label("Password").fill(PASSWORDS["clinician"])
        clinician.get_by_role("button", name="Continue").click()
        clinician.wait_for_url("**/signin/verify/**")
        clinician.get_by_label("Code").fill(_code(secret, ahead=30))
        clinician.get_by_role("button", name="Verify").click()
        expect(clinician.get_by_role("heading", level=1)).to_have_text("Harbour Physio")
        expect(clinician.get_by_text("Signed in as Cal Clinician · Clinician")).to_be_visible()
    finally:
        context.close()

    # Back on the owner's staff page: both are members with an authenticator, the invitation is gone.
    page.goto("/staff/")
    row = page.get_by_test_id("member-cal@harbour.example.test")
    expect(row).to_contain_text("Clinician")
    expect(row).to_contain_text("Set up")
    expect(page.get_by_test_id("invitation-cal@harbour.example.test")).to_have_count(0)
    assert page_problems.all() == []
