"""Issue 17, done-when (the third browser test; RTS3 M6–M10, DSC1): a clinician denies a request
to correct a note, the patient files a statement of disagreement in the portal (390 px, axe-clean),
the clinician writes the rebuttal, creates a records release of the notes, and the release link
shows the request, the denial, the disagreement and the rebuttal."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import browser_sign_in
from tests.factories import TEST_PASSWORD

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_JS = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""
ASKED = "I have never smoked; please correct the note"
DISAGREE = "I have never smoked a cigarette in my life."
REBUT = "The clinician recorded what was said at the visit."
EXPLAIN = "The note records what you told us."


@pytest.fixture
def amend_world(clinic):
    from confide.accounts.models import LinkKind, Membership, PortalLink, User, UserKind
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.records import notes
    from confide.rights.services import check_open_request
    from tests.portal_world import actor_for
    from tests.rights.amend_helpers import officer_with_phone

    practice = clinic.practice
    with tenant_context(practice_id=practice.id):
        clinician = StaffActor.from_membership(Membership.objects.get(user=clinic.users[Role.CLINICIAN], practice=practice))
        members = {role: Membership.objects.get(user=clinic.users[role], practice=practice) for role in (Role.OWNER, Role.CLINICIAN)}
        note = notes.do_create_note(actor=clinician, patient_id=clinic.patient.pk, content={"subjective": "Smokes ten a day."})
        notes.do_sign_note(actor=clinician, note_id=note.pk, patient_id=clinic.patient.pk)
        user = User.objects.create_user(email="pat@amend.example.test", password=TEST_PASSWORD, display_name="Pat", kind=UserKind.PATIENT)
        link = PortalLink.objects.create(practice_id=practice.id, user=user, patient_id=clinic.patient.pk, kind=LinkKind.SELF)

    class PW:  # what officer_with_phone needs of a practice world
        pass

    pw = PW()
    pw.practice, pw.memberships = practice, members
    officer_with_phone(pw)
    req = check_open_request(actor=actor_for(link), kind="correct", detail=ASKED)
    clinic.portal_user, clinic.request = user, req
    return clinic


def _checked(page) -> None:
    """axe-clean (serious, critical) and no sideways scrolling at phone width."""
    assert page.evaluate(AXE_JS) == []
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_rts3_dsc1_denied_disagreed_rebutted_and_released_together(browser, live_server, amend_world, page_problems):
    w = amend_world
    req = w.request
    staff_context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="en-US", bypass_csp=True)
    staff_context.set_default_timeout(15_000)
    staff_context.add_init_script(path=str(AXE))
    page = staff_context.new_page()
    page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
    # 1. The clinician starts the review on the note and denies it.
    browser_sign_in(page, w.users[Role.CLINICIAN])
    page.goto(f"/rights/requests/{req.pk}/amendment/")
    page.get_by_label("Part of the record").select_option(index=1)  # the signed progress note
    page.get_by_role("button", name="Start the review").click()
    expect(page.get_by_test_id("amendment-status")).to_have_text("Waiting for a decision")
    _checked(page)
    deny = page.get_by_test_id("deny-form")
    deny.get_by_label("We reviewed the information and it is accurate and complete.").check()
    deny.get_by_label("Explanation for the patient (optional)").fill(EXPLAIN)
    deny.get_by_role("button", name="Deny and write the letter").click()
    expect(page.get_by_test_id("amendment-status")).to_have_text("Denied")

    # 2. The patient files a statement of disagreement in the portal, at phone width.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    portal = context.new_page()
    try:
        portal.goto("/portal/signin/")
        portal.get_by_label("Email").fill(w.portal_user.email)
        portal.get_by_label("Password").fill(TEST_PASSWORD)
        portal.get_by_role("button", name="Sign in", exact=True).click()
        portal.wait_for_url("**/portal/")
        portal.goto("/portal/privacy/#amendments")
        form = portal.get_by_test_id("disagreement-form")
        expect(form).to_be_visible()
        assert portal.evaluate(AXE_JS) == []
        assert portal.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        form.get_by_label("Your statement of disagreement (up to 2,000 characters)").fill(DISAGREE)
        form.get_by_role("button", name="Send my statement").click()
        expect(portal.get_by_test_id("my-amendments")).to_contain_text("Your statement of disagreement is on file")
        assert portal.evaluate(AXE_JS) == []
    finally:
        context.close()

    # 3. The clinician writes the rebuttal (a copy goes to the patient).
    page.goto(f"/rights/requests/{req.pk}/amendment/")
    expect(page.get_by_test_id("amendment-disagreement")).to_contain_text(DISAGREE)
    page.get_by_label("Our response to the statement of disagreement; a copy goes to the patient").fill(REBUT)
    page.get_by_role("button", name="Save and send the patient a copy").click()
    expect(page.get_by_test_id("amendment-panel")).to_contain_text("Copy to the patient")

    # 4. A records release of the notes to another provider.
    page.goto(f"/rights/patients/{w.patient.pk}/release/")
    page.get_by_label("Recipient (name and organisation)").fill("Dr Rivera, Bay Cardiology")
    page.get_by_label("Progress notes").check()
    page.get_by_role("button", name="Create the link").click()
    url = page.locator("#release-url").input_value()
    assert "/release/" in url
    _checked(page)

    # 5. The recipient opens it: the dispute travels with the note.
    page.goto(url)
    packet = page.get_by_test_id("release-amendments")
    expect(packet.get_by_test_id("packet-request")).to_contain_text(ASKED)
    expect(packet.get_by_test_id("packet-denial")).to_contain_text(EXPLAIN)
    expect(packet.get_by_test_id("packet-disagreement")).to_contain_text(DISAGREE)
    expect(packet.get_by_test_id("packet-rebuttal")).to_contain_text(REBUT)
    _checked(page)
    assert page_problems.page_errors == []
    staff_context.close()
