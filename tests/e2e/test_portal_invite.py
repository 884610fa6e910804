"""ACC5/ACC6 in a real browser: the front desk invites a patient from the chart's "Portal
access" page; the patient opens the e-mailed link, chooses a password and lands on the portal
home; changes the password on the account page; closes the account and reads what was kept.
Phone width (390 px) on the patient's pages, no console errors (CSP)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in

pytestmark = pytest.mark.e2e

PATIENT_PASSWORD = "Lantern-Orchard-Velvet-42"
CHANGED_PASSWORD = "Harbour-Kettle-Plum-77"


def _fits_phone_width(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url
    page.set_viewport_size({"width": 1200, "height": 800})


def test_staff_invite_patient_accepts_changes_password_and_closes_the_account(page, page_problems, clinic, live_server, settings):
    settings.CONFIDE_BASE_URL = live_server.url
    from confide.accounts.models import PortalLink, User
    from confide.core.tenancy import tenant_context

    patient = clinic.patient
    # Staff: the chart's overview leads to Portal access; the address is prefilled from the chart.
    browser_sign_in(page, clinic.users[Role.FRONT_DESK])
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_test_id("portal-access-link").click()
    expect(page.get_by_role("heading", name="Portal access")).to_be_visible()
    address = page.get_by_label("E-mail address").first
    assert address.input_value()  # the chart's e-mail
    address.fill("new.patient@example.test")
    mail.outbox.clear()
    page.get_by_role("button", name="Invite to the portal").click()
    expect(page.get_by_text("Invitation sent.")).to_be_visible()
    expect(page.get_by_test_id("portal-pending")).to_contain_text("new.patient@example.test")

    # The patient, in another browser session, opens the e-mailed link.
    page.context.clear_cookies()
    [message] = [m for m in mail.outbox if m.to == ["new.patient@example.test"]]
    link = re.search(r"http://\S+/portal/invitation/\?token=\S+", message.body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Set up your patient portal")).to_be_visible()
    assert "token=" not in page.url  # moved into the session
    _fits_phone_width(page)
    page.get_by_label("Your name").fill("Noor Newcomer")
    page.get_by_label("Choose a password").fill(PATIENT_PASSWORD)
    page.get_by_label("The same password again").fill(PATIENT_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/portal/")
    expect(page.get_by_role("heading", name=re.compile("^Hello, "))).to_be_visible()
    expect(page.get_by_text("Your portal account is ready")).to_be_visible()

    # Account page: change the password.
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    _fits_phone_width(page)
    page.get_by_label("Your password now").fill(PATIENT_PASSWORD)
    page.get_by_label("New password", exact=True).fill(CHANGED_PASSWORD)
    page.get_by_label("New password again").fill(CHANGED_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    assert User.objects.get(email="new.patient@example.test").check_password(CHANGED_PASSWORD)

    # Close the account: what happens is said first; then the signed-out page says what was kept.
    page.get_by_role("link", name="Close my account").click()
    expect(page.get_by_role("heading", name="Close your portal account?")).to_be_visible()
    page.get_by_test_id("close-account").click()
    expect(page.get_by_role("heading", name="Your portal account is closed")).to_be_visible()
    expect(page.get_by_text("is not deleted")).to_be_visible()
    _fits_phone_width(page)
    user = User.objects.get(email="new.patient@example.test")
    assert not user.is_active
    with tenant_context(practice_id=clinic.practice.id):
        assert not PortalLink.objects.filter(user=user, is_active=True).exists()
    page.goto("/portal/")
    page.wait_for_url("**/portal/signin/**")
    assert page_problems.all() == []


def test_the_portal_account_pages_fit_a_phone_and_pass_axe(browser, live_server, clinic, settings):
    """The pages of this part, as the every-page test checks its own: the staff's Portal access
    page, the invitation's pages (the form, a link that does not work), the account, closing
    and reset pages; 390 px and axe-core (WCAG 2.2 AA)."""
    settings.CONFIDE_BASE_URL = live_server.url
    from django.urls import reverse

    from confide.accounts.portal_invitations import issue_portal_invitation
    from confide.core.tenancy import tenant_context
    from tests.e2e.test_every_page import Findings, _context

    findings = Findings()
    with tenant_context(practice_id=clinic.practice.id):
        _, link = issue_portal_invitation(practice_id=clinic.practice.id, patient_id=clinic.patient.pk, email="axe@example.test")
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        for name in ("portal:password-reset", "portal:closed"):
            findings.visit(page, name, reverse(name), "anonymous")
        assert page.goto(reverse("portal:invitation") + "?token=garbled").status == 400  # the one clear page
        findings.check_page(page, "anonymous portal:invitation (garbled)")
        findings.visit(page, "portal:invitation", link.replace(live_server.url, ""), "anonymous")
        page.get_by_label("Your name").fill("Axe Patient")
        page.get_by_label("Choose a password").fill(PATIENT_PASSWORD)
        page.get_by_label("The same password again").fill(PATIENT_PASSWORD)
        page.get_by_role("button", name="Create my account").click()
        page.wait_for_url("**/portal/")
        for name in ("portal:account", "portal:deactivate", "portal:mfa-enrol"):
            findings.visit(page, name, reverse(name), "patient")
        context.clear_cookies()
        browser_sign_in(page, clinic.users[Role.FRONT_DESK])
        findings.visit(page, "records:chart-portal", reverse("records:chart-portal", kwargs={"patient_id": clinic.patient.pk}), "front desk")
    finally:
        context.close()
    assert findings.problems == [], "\n".join(findings.problems)
    assert findings.answered["portal:account"] == {200} and findings.answered["records:chart-portal"] == {200}
