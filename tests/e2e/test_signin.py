"""Sign-in through a real browser: password, second step, enrolment, CSP, keyboard order."""

from __future__ import annotations

import base64
import re
import time

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.factories import TEST_PASSWORD, PracticeFactory


def test_clinician_signs_in_with_password_and_code(page, page_problems, e2e_world, live_server):
    from confide.accounts.models import TOTPDevice

    clinician = e2e_world.users[Role.CLINICIAN]

    response = page.goto("/")
    assert re.search(r"/signin/\?next=/$", page.url), page.url
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp

    page.get_by_label("Email").fill(clinician.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()

    device = TOTPDevice.objects.get(user=clinician, confirmed=True)
    page.get_by_label("Code").fill(device.current_code())
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")
    expect(page.get_by_text("Signed in as Chris Clinician · Clinician")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    # Bootstrap's stylesheet was served and applied (a missing CSS file is also a console error).
    assert page.locator("body").evaluate("b => getComputedStyle(b).fontFamily").startswith("system-ui")
    assert page_problems.all() == []


def test_wrong_password_shows_the_error_and_stays_on_sign_in(page, page_problems, e2e_world):
    page.goto("/signin/")
    page.get_by_label("Email").fill(e2e_world.users[Role.CLINICIAN].email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("alert")).to_contain_text("That email and password did not match an account.")
    expect(page.get_by_role("heading", name="Sign in to Confide")).to_be_visible()
    assert "/signin/" in page.url and "/verify/" not in page.url
    assert page_problems.all() == []


def test_new_user_enrols_an_authenticator_at_first_sign_in(page, page_problems, make_staff):
    from django_otp.oath import TOTP

    practice = PracticeFactory(slug="enrol", name="Demo Family Therapy")
    assert practice.mfa_required
    newhire = make_staff(practice, Role.CLINICIAN, email="newhire@demo.example.test", display_name="Nat Newhire", mfa=False)

    page.goto("/signin/")
    page.get_by_label("Email").fill(newhire.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/enrol/")
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()

    secret = page.get_by_test_id("totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})*", secret), secret
    totp = TOTP(base64.b32decode(secret.replace(" ", "")), step=30, t0=0, digits=6, drift=0)
    totp.time = time.time()
    page.get_by_label("Code from your app").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Confirm").click()

    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes.all_inner_texts())
    page.get_by_role("link", name="I have saved them — continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")
    expect(page.get_by_text("Signed in as Nat Newhire")).to_be_visible()
    assert page_problems.all() == []


def test_tab_order_starts_at_the_skip_link_then_reaches_email(page, page_problems, e2e_world):
    page.goto("/signin/")
    # The Email field has autofocus. Start keyboard navigation from the top of the document, as
    # when focus enters the page from the browser's own UI: focus <body> (a blur alone leaves
    # Chromium's navigation starting point at the Email field).
    page.evaluate("""() => {
        document.body.tabIndex = -1;
        document.body.focus();
        document.body.removeAttribute("tabindex");
    }""")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # visually hidden until focused

    email = page.get_by_label("Email")
    for _ in range(5):
        page.keyboard.press("Tab")
        if email.evaluate("el => el === document.activeElement"):
            break
    expect(email).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    assert page_problems.all() == []
