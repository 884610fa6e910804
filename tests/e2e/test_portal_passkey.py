"""ACC2 (patients) in a real browser: a patient signs in with their password, adds a passkey on
the passkeys page, signs out, and signs in again with the passkey alone — Chromium's virtual
authenticator over the DevTools protocol plays the phone.

WebAuthn needs a secure context and an RP ID that is a domain: the browser goes to
http://localhost:PORT (localhost is a secure context), not the live server's 127.0.0.1."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import VIEWPORT
from tests.factories import TEST_PASSWORD, PracticeFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def patient_account(transactional_db, make_staff):
    """A practice, a patient with their own portal account (no second factor yet)."""
    from confide.accounts.models import LinkKind, Membership, PortalLink, User, UserKind
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient

    practice = PracticeFactory(slug="passkeys", name="Passkey Family Practice")
    clinician = make_staff(practice, Role.CLINICIAN, email="clinician@passkeys.example.test", display_name="Chris Clinician")
    with tenant_context(practice_id=practice.id):
        actor = StaffActor.from_membership(Membership.objects.get(user=clinician, practice=practice))
        patient = do_create_patient(actor=actor, given_name="Ada", family_name="Passkey", email="ada@passkeys.example.test")
    user = User.objects.create_user(email="ada@passkeys.example.test", password=TEST_PASSWORD, display_name="Ada", kind=UserKind.PATIENT)
    with tenant_context(practice_id=practice.id):
        PortalLink.objects.create(practice_id=practice.id, user=user, patient_id=patient.pk, kind=LinkKind.SELF)
    return user


@pytest.fixture
def localhost_page(browser, live_server, page_problems):
    """A page based at http://localhost:PORT, with a virtual platform authenticator (a passkey
    store that verifies its user) attached to the browser over the DevTools protocol."""
    base = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", lambda msg: page_problems.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
    }})  # fmt: skip
    page.authenticator = (cdp, added["authenticatorId"])
    try:
        yield page
    finally:
        context.close()


def test_acc2_patient_adds_a_passkey_and_signs_in_with_it_alone(localhost_page, page_problems, patient_account):
    from confide.accounts.models import WebAuthnCredential

    page = localhost_page
    page.goto("/portal/signin/")
    page.get_by_label("Email").fill(patient_account.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Passkey")

    page.goto("/portal/passkeys/")
    expect(page.get_by_text("You have no passkeys yet")).to_be_visible()
    page.get_by_label("Name for this passkey").fill("My phone")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey “My phone” added")).to_be_visible()
    expect(page.get_by_role("heading", name="My phone")).to_be_visible()
    cdp, authenticator_id = page.authenticator
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(held) == 1 and held[0]["isResidentCredential"] and held[0]["rpId"] == "localhost"
    assert WebAuthnCredential.objects.get(user=patient_account).name == "My phone"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to your patient portal")).to_be_visible()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Passkey")
    assert re.search(r"/portal/$", page.url), page.url
    assert WebAuthnCredential.objects.get(user=patient_account).last_used_at is not None
    assert page_problems.all() == []


def test_a_cancelled_passkey_step_is_explained_in_plain_words(localhost_page, page_problems, patient_account):
    page = localhost_page
    cdp, authenticator_id = page.authenticator
    # No passkey for this site on the device: the browser's prompt ends without one.
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": False})
    page.goto("/portal/signin/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("cancelled or took too long", timeout=20_000)
    assert "/portal/signin/" in page.url


def test_the_passkey_pages_fit_a_phone_and_pass_axe(browser, live_server, patient_account):
    """The sign-in page with its passkey button, the passkeys page with one passkey and the
    removal page: no sideways scrolling at 390 px, no serious or critical axe violation."""
    from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE

    base = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=base, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
    }})  # fmt: skip
    problems = []

    def check(label: str) -> None:
        overflow = page.evaluate(OVERFLOW_JS)
        if overflow["width"] > PHONE["width"]:
            problems.append(f"{label}: {overflow['width']}px wide: {overflow['culprits']}")
        problems.extend(f"{label}: {v['id']} {v['help']} {v['nodes']}" for v in page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS]))

    try:
        page.goto("/portal/signin/")
        expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
        check("sign-in")
        page.get_by_label("Email").fill(patient_account.email)
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Passkey")
        page.goto("/portal/passkeys/")
        page.get_by_label("Name for this passkey").fill("A phone with a rather long name for a passkey")
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.get_by_role("link", name="Remove")).to_be_visible()
        check("passkeys")
        page.get_by_role("link", name="Remove").click()
        expect(page.get_by_role("button", name="Remove this passkey")).to_be_visible()
        check("remove")
    finally:
        context.close()
    assert problems == []
