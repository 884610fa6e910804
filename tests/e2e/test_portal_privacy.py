"""Issue 14, done-when: a patient withdraws SMS consent and sees the state and the ledger line
change; a clinician opened their chart and "who opened my record" shows the clinician's name and
role; the CSV downloads; the privacy page passes axe-core (vendored) at phone width."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.factories import TEST_PASSWORD, PracticeFactory

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_JS = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


@pytest.fixture
def patient_world(transactional_db, make_staff):
    """A practice, a clinician, a patient with a portal account, and the clinician's opening of
    the chart, all through the services before the browser starts."""
    from confide.access.door import open_chart
    from confide.accounts.models import LinkKind, Membership, PortalLink, User, UserKind
    from confide.core.actors import StaffActor
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient
    from tests.access.conftest import FULL

    practice = PracticeFactory(slug="portal", name="Portal Family Therapy")
    clinician = make_staff(practice, Role.CLINICIAN, email="chris@portal.example.test", display_name="Chris Clinician")
    with tenant_context(practice_id=practice.id):
        actor = StaffActor.from_membership(Membership.objects.get(user=clinician, practice=practice))
        patient = do_create_patient(actor=actor, **(FULL | {"given_name": "Ada", "family_name": "Portal", "preferred_name": ""}))
        user = User.objects.create_user(email="ada@portal.example.test", password=TEST_PASSWORD, display_name="Ada", kind=UserKind.PATIENT)
        PortalLink.objects.create(practice_id=practice.id, user=user, patient_id=patient.pk, kind=LinkKind.SELF)
        with open_chart(actor, patient.pk, Purpose.TREATMENT, categories={"health.medications"}):
            pass
    from confide.consent.topics import Action
    from confide.portal import privacy
    from tests.portal_world import actor_for

    link = PortalLink.across_practices.get(user=user)
    item = privacy.BY_TOPIC["marketing_sms"]
    privacy.do_choice(actor=actor_for(link), link_id=link.id, topic="marketing_sms", action="grant", digest=privacy.shown_digest(item, Action.GRANT))
    return user


def test_aud1_con1_a_patient_withdraws_sms_and_sees_who_opened_their_chart(browser, live_server, patient_world, page_problems):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
    try:
        page.goto("/portal/signin/")
        page.get_by_label("Email").fill(patient_world.email)
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url("**/portal/")
        page.get_by_role("link", name="Privacy").click()
        page.wait_for_url("**/portal/privacy/")

        sms = page.get_by_test_id("topic-marketing_sms")
        expect(sms.get_by_test_id("state")).to_have_text("On")
        sms.get_by_role("button", name="Stop these texts").click()
        page.wait_for_url("**/portal/privacy/#choices")
        sms = page.get_by_test_id("topic-marketing_sms")
        expect(sms.get_by_test_id("state")).to_have_text("Off")
        expect(sms.get_by_role("button", name="Yes, send me texts")).to_be_visible()
        expect(page.get_by_test_id("ledger").locator("li").first).to_contain_text("You withdrew text messages with news and offers on")

        row = page.get_by_test_id("access-row").filter(has_text="Opened the chart").filter(has_text="Chris Clinician")
        expect(row.first).to_be_visible()
        expect(row.first.get_by_test_id("role")).to_have_text("Clinician")

        violations = page.evaluate(AXE_JS)
        assert violations == [], violations
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        with page.expect_download() as download:
            page.get_by_test_id("download-csv").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows[0][1] == "who" and any(r[1] == "Chris Clinician" and r[2] == "Clinician" for r in rows[1:])
    finally:
        context.close()
    assert page_problems.page_errors == []
