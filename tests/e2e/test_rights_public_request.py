"""Issue 17, part "intake" (Done when): a visitor files a CCPA deletion request on the practice's
public form at phone width, without signing in, receives the code at the contact the practice
holds (read from the e-mail outbox), enters it and ends on the confirmation page. Each page is
axe-clean and does not scroll sideways at 390 px; the request is verified and the identity
check's data is gone (ACC7, RTS6). Then the privacy officer finds it in the queue, opens it,
reviews the deletion plan from its panel and executes it: the patient leaves the active database
(RTS4; the issue's second browser test, end to end)."""

from __future__ import annotations

from confide.core.permissions import Role
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE
from tests.rights.helpers_intake import email_with_baa, file_public_request_and_verify


def _axe_clean(page) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["width"] <= PHONE["width"], overflow
    violations = page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS])
    assert violations == [], violations


def test_rts6_acc7_rts4_a_visitor_files_a_ccpa_deletion_verifies_by_code_and_the_officer_executes_the_plan(
    browser, live_server, clinic, make_staff, run_tasks,
):
    from confide.accounts.models import Membership
    from confide.core.tenancy import tenant_context
    from confide.rights.models import IdentityCheck, RightsRequest
    from tests.access.conftest import FULL

    practice = clinic.practice
    officer = make_staff(practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    with tenant_context(practice_id=practice.id):
        membership = Membership.objects.get(user=officer, practice=practice)
    email_with_baa(clinic, membership)

    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        file_public_request_and_verify(page, live_server, practice, FULL, contact_on_file=FULL["email"], kind="delete", check=_axe_clean)
    finally:
        context.close()
    with tenant_context(practice_id=practice.id):
        made = RightsRequest.objects.get()
        assert not IdentityCheck.objects.exists()
    assert (made.kind, made.verification, made.status, made.patient_id) == ("delete", "code", "in_progress", clinic.patient.pk)
    assert "ccpa" in made.regimes and made.ack_due_on is not None

    # The privacy officer: the queue lists it, its page links the plan, the plan is executed.
    from playwright.sync_api import expect

    from confide.records.models import Patient
    from tests.e2e.conftest import VIEWPORT, browser_sign_in

    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        browser_sign_in(page, officer)
        page.goto("/rights/requests/")
        expect(page.get_by_text(f"{FULL['given_name']} {FULL['family_name']}").first).to_be_visible()
        page.get_by_test_id("open-request").first.click()
        page.wait_for_url(f"**/rights/requests/{made.pk}/")
        page.get_by_role("link", name="Review the deletion plan").click()
        expect(page.get_by_role("heading", name="Deletion plan")).to_be_visible()
        expect(page.get_by_test_id("plan-archive")).to_contain_text("The chart")
        page.get_by_role("button", name="Execute the plan").click()
        expect(page.get_by_test_id("deletion-state")).to_contain_text("0 of 3 steps")
        run_tasks()
        page.reload()
        expect(page.get_by_test_id("deletion-state")).to_contain_text("Done: 3 of 3 steps")
    finally:
        context.close()
    with tenant_context(practice_id=practice.id):
        assert not Patient.objects.get(pk=clinic.patient.pk).is_active
        assert RightsRequest.objects.get(pk=made.pk).status in ("done", "partly_done")
