"""Issue 14, "Done when", as one patient's day in a real browser (Chromium, SQLite pass):

the practice invites the patient; the patient opens the e-mailed link, chooses a password, adds a
passkey (Chromium's virtual authenticator over the DevTools protocol plays the phone), signs out
and signs in with the passkey alone, reads their record (no psychotherapy note), makes and
downloads the PDF summary and the FHIR file (it validates; no psychotherapy note), grants and
then withdraws text messages and sees the ledger line, sees the clinician who opened their chart
in "who opened my record", and closes the account. The pieces have tests of their own in
tests/portal/ and tests/e2e/test_portal_*.py; this one shows they join up.

WebAuthn needs a secure context and an RP ID that is a domain: the browser goes to
http://localhost:PORT, not the live server's 127.0.0.1."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import VIEWPORT

pytestmark = pytest.mark.e2e

PASSWORD = "Lantern-Orchard-Velvet-42"
PSYCHOTHERAPY_TEXT = "Process note: themes of loss, session four"


@pytest.fixture
def invited(clinic, live_server, settings):
    """The clinic's patient (a full record), a signed psychotherapy note by the clinician, the
    clinician's opening of the chart, and an invitation e-mailed to the patient."""
    from django.db import transaction

    from confide.access.door import open_chart
    from confide.accounts.models import Membership
    from confide.accounts.portal_invitations import issue_portal_invitation
    from confide.core.actors import StaffActor
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.records import notes

    settings.CONFIDE_BASE_URL = live_server.url.replace("127.0.0.1", "localhost")
    practice, patient = clinic.practice, clinic.patient
    with tenant_context(practice_id=practice.id):
        clinician = StaffActor.from_membership(Membership.objects.get(user=clinic.users[Role.CLINICIAN], practice=practice))
        psy = notes.do_create_psychotherapy_note(actor=clinician, patient_id=patient.pk, text=PSYCHOTHERAPY_TEXT)
        notes.do_sign_psychotherapy_note(actor=clinician, patient_id=patient.pk, note_id=psy.pk)
        with open_chart(clinician, patient.pk, Purpose.TREATMENT, categories={"health.medications"}):
            pass
        mail.outbox.clear()
        with transaction.atomic():
            issue_portal_invitation(practice_id=practice.id, patient_id=patient.pk, email="marisol@journey.example.test")
    [message] = [m for m in mail.outbox if m.to == ["marisol@journey.example.test"]]
    return re.search(r"http://\S+/portal/invitation/\?token=\S+", message.body).group(0)


@pytest.fixture
def phone(browser, live_server, page_problems):
    base = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", lambda msg: page_problems.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
    }})  # fmt: skip
    try:
        yield page
    finally:
        context.close()


def _make_and_download(page, run_tasks, button: str, link_name: str):
    page.get_by_role("button", name=button).click()
    expect(page.get_by_test_id("export-progress")).to_have_attribute("data-status", "queued")
    run_tasks()  # the task worker makes the file; the page sees it at its next poll
    expect(page.get_by_test_id("export-progress")).to_have_attribute("data-status", "done", timeout=10_000)
    expect(page.locator("progress#export-bar")).to_have_attribute("value", "100")
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    with open(info.value.path(), "rb") as fh:
        return fh.read()


def test_issue_14_a_patient_from_invitation_to_closing_the_account(phone, page_problems, invited, clinic, run_tasks):
    from confide.accounts.models import PortalLink, User, WebAuthnCredential
    from confide.core.tenancy import tenant_context

    page = phone
    # The invitation: a password of their own (ACC5).
    page.goto(invited.replace("127.0.0.1", "localhost"))
    expect(page.get_by_role("heading", name="Set up your patient portal")).to_be_visible()
    page.get_by_label("Your name").fill("Marisol")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/portal/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Mari Quintero")

    # A passkey, then out and back in with the passkey alone (ACC2).
    page.goto("/portal/passkeys/")
    page.get_by_label("Name for this passkey").fill("My phone")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey “My phone” added")).to_be_visible()
    user = User.objects.get(email="marisol@journey.example.test")
    assert WebAuthnCredential.objects.filter(user=user).count() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/portal/signin/**")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url("**/portal/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Mari Quintero")

    # My record, read through the door as the patient; no psychotherapy note (RTS1).
    page.get_by_role("link", name="My record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My record")
    expect(page.locator("main")).to_contain_text("salbutamol")
    assert PSYCHOTHERAPY_TEXT not in page.content()

    # The downloads (RTS2): the PDF, then the FHIR file, which validates and holds no such note.
    pdf = _make_and_download(page, run_tasks, "Make a PDF summary", "Download the PDF")
    assert pdf.startswith(b"%PDF-")
    page.get_by_role("link", name="Back to my record").click()
    fhir = _make_and_download(page, run_tasks, "Make a FHIR file (for health apps)", "Download the FHIR file")
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(json.loads(fhir))
    assert PSYCHOTHERAPY_TEXT.encode() not in fhir

    # The privacy centre: text messages on, then off, each in the ledger (CON1); the clinician
    # who opened the chart, by name and role (AUD1).
    page.get_by_role("link", name="Privacy").click()
    sms = page.get_by_test_id("topic-marketing_sms")
    sms.get_by_role("button", name="Yes, send me texts").click()
    expect(page.get_by_test_id("topic-marketing_sms").get_by_test_id("state")).to_have_text("On")
    page.get_by_test_id("topic-marketing_sms").get_by_role("button", name="Stop these texts").click()
    expect(page.get_by_test_id("topic-marketing_sms").get_by_test_id("state")).to_have_text("Off")
    expect(page.get_by_test_id("ledger").locator("li").first).to_contain_text("You withdrew text messages with news and offers on")
    row = page.get_by_test_id("access-row").filter(has_text="Chris Clinician").first
    expect(row).to_be_visible()
    expect(row.get_by_test_id("role")).to_have_text("Clinician")

    # Closing the account (ACC5): the record stays, the account and its links end.
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("link", name="Close my account").click()
    page.get_by_test_id("close-account").click()
    expect(page.get_by_role("heading", name="Your portal account is closed")).to_be_visible()
    user.refresh_from_db()
    assert not user.is_active
    with tenant_context(practice_id=clinic.practice.id):
        assert not PortalLink.objects.filter(user=user, is_active=True).exists()
        assert type(clinic.patient).objects.filter(pk=clinic.patient.pk, is_active=True).exists()
    page.goto("/portal/")
    page.wait_for_url("**/portal/signin/**")
    assert page_problems.all() == []
