"""RTS4 in a real browser (part retention): the privacy officer opens a verified deletion request
(made with the service directly; the public form and its code join at the merge), reviews the
plan — erased now, archived until, already disclosed — executes it after the page's own
confirmation, and sees the run done. The page passes axe-core and fits 390 px."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import VIEWPORT, browser_sign_in

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_JS = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


def _check(page) -> None:
    assert page.evaluate(AXE_JS) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.querySelector('main').scrollWidth") <= 390
    page.set_viewport_size(VIEWPORT)


def test_rts4_the_officer_reviews_and_executes_a_deletion_plan(page, page_problems, clinic, make_staff, run_tasks):
    from confide.core.tenancy import tenant_context
    from confide.records.models import Patient
    from tests.retention.conftest import add_disclosure, delete_request

    officer = make_staff(clinic.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    add_disclosure(clinic.patient, recipient="Oak Clinic records desk")
    req = delete_request(clinic.patient)
    page.context.add_init_script(path=str(AXE))

    browser_sign_in(page, officer)
    page.goto(f"/rights/requests/{req.pk}/deletion/")
    expect(page.get_by_role("heading", name="Deletion plan")).to_be_visible()
    expect(page.get_by_test_id("plan-erase")).to_contain_text("Portal access")
    expect(page.get_by_test_id("plan-archive")).to_contain_text("The chart")
    expect(page.get_by_test_id("plan-unreachable")).to_contain_text("Oak Clinic records desk")
    _check(page)

    page.get_by_role("button", name="Execute the plan").click()
    expect(page.get_by_test_id("deletion-state")).to_contain_text("0 of 3 steps")
    run_tasks()
    page.reload()
    expect(page.get_by_test_id("deletion-state")).to_contain_text("Done: 3 of 3 steps")
    expect(page.get_by_role("button", name="Execute the plan")).to_have_count(0)
    _check(page)
    with tenant_context(practice_id=clinic.practice.id):
        assert not Patient.objects.get(pk=clinic.patient.pk).is_active
    assert page_problems.console_errors == [] and page_problems.page_errors == []
