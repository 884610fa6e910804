"""POL1, POL2, POL3 through a real browser: the privacy officer changes a retention period on the
policy settings page (a bad line first, then the fix), previews, and publishes it as a material
change 31 days ahead; the public notice announces it, the worker e-mails the staff, and another
member of staff sees the banner and says they have read it."""

from __future__ import annotations

import datetime

from django.utils import timezone
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import VIEWPORT, browser_sign_in

SUMMARY = "Telehealth recordings are kept 60 days instead of 90."
BAD = '# Shorter recordings\n[[retention]]\nid = "telehealth-recordings"\nperiod = "60 days"\n'
GOOD = BAD.replace('"60 days"', '"60d"')


def _long_date(moment: datetime.datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


def test_pol2_privacy_officer_publishes_a_material_change_and_staff_are_told(
    page, page_problems, browser, live_server, e2e_world, make_staff, run_tasks, mailoutbox
):
    officer = make_staff(e2e_world.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    browser_sign_in(page, officer)
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")
    page.get_by_role("link", name="Privacy notice and policy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice and policy of Demo Family Therapy")
    expect(page.get_by_test_id("in-force")).to_contain_text("Version 1, in effect from")

    # A bad line: the error names it, next to the text box, and nothing else is marked.
    override = page.get_by_label("Override (TOML)")
    override.fill(BAD)
    page.get_by_role("button", name="Preview").click()
    error = page.get_by_test_id("override-error")
    expect(error).to_contain_text("override, line 4: retention.0.period")
    expect(error).to_contain_text('That line reads: period = "60 days"')
    expect(page.get_by_label("Override (TOML)")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".is-invalid")).to_have_count(1)
    expect(page.get_by_test_id("preview")).to_have_count(0)

    # Fixed, previewed: the diff and the notice's retention table as it will read.
    page.get_by_label("Override (TOML)").fill(GOOD)
    effective = timezone.now() + datetime.timedelta(days=31)
    page.get_by_label("Takes effect (UTC)").fill(effective.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("This is a material change").check()
    page.get_by_label("What changes, in one sentence").fill(SUMMARY)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-changes")).to_have_text("retention.telehealth-recordings.period: 90d → 60d")
    expect(page.get_by_test_id("preview-problems")).to_have_count(0)
    recordings = page.get_by_test_id("preview").get_by_role("row", name="Telehealth session recordings")
    expect(recordings).to_contain_text("60 days")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").first).to_contain_text("Version 2 is published.")
    expect(page.get_by_test_id("version-2")).to_contain_text("Priya Privacy")
    expect(page.get_by_test_id("notice-banner")).to_contain_text(SUMMARY)  # the officer is staff too

    # The public notice, still version 1, announces version 2 with its summary.
    page.goto(f"/p/{e2e_world.practice.slug}/privacy/")
    upcoming = page.get_by_test_id("upcoming")
    expect(upcoming).to_contain_text(f"An updated notice takes effect on {_long_date(effective)}.")
    expect(upcoming).to_contain_text(SUMMARY)
    expect(page.get_by_role("row", name="Telehealth session recordings")).to_contain_text("90 days")

    # The worker e-mails every member of staff (patients: none in this practice).
    assert mailoutbox == []
    run_tasks()
    staff = sorted([officer.email, *(u.email for u in e2e_world.users.values())])
    assert sorted(m.to[0] for m in mailoutbox) == staff
    assert all(SUMMARY in m.body for m in mailoutbox)

    # Another member of staff sees the banner and says they have read it.
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(10_000)
    other_problems: list[str] = []
    try:
        clinician_page = context.new_page()
        clinician_page.on("console", lambda msg: other_problems.append(msg.text) if msg.type == "error" else None)
        browser_sign_in(clinician_page, e2e_world.users[Role.CLINICIAN])
        banner = clinician_page.get_by_test_id("notice-banner")
        expect(banner).to_contain_text(f"Demo Family Therapy's privacy notice changes on {_long_date(effective)}: {SUMMARY}")
        banner.get_by_role("button", name="I have read it").click()
        expect(clinician_page.get_by_role("status")).to_contain_text("it is recorded that you have read version 2")
        expect(clinician_page.get_by_test_id("notice-banner")).to_have_count(0)
    finally:
        context.close()

    # The officer's report counts it.
    page.goto("/practice/privacy-policy/")
    expect(page.get_by_test_id("emailed-staff")).to_have_text(str(len(staff)))
    expect(page.get_by_test_id("accepted-staff")).to_have_text("1")
    expect(page.get_by_test_id("not-accepted-2")).not_to_contain_text("Chris Clinician")
    expect(page.get_by_test_id("not-accepted-2")).to_contain_text("Olivia Owner")

    assert other_problems == []
    # The only console errors are the browser noting the deliberate 400 (the bad line).
    assert all("status of 400" in problem for problem in page_problems.all()), page_problems.all()


def test_pol1_an_override_typed_with_a_stale_confirmation_survives_the_confirm_step(page, page_problems, e2e_world, make_staff):
    """Publish needs a fresh password and code; asking for them must not throw away the override
    the officer spent the last quarter of an hour writing (it once did: a redirect dropped it)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.conf import settings

    from confide.accounts.models import TOTPDevice
    from confide.core.middleware import SESSION_AUTH_FRESH_AT
    from confide.core.tenancy import tenant_context
    from confide.policy.models import PolicyVersion
    from tests.factories import TEST_PASSWORD

    officer = make_staff(e2e_world.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    browser_sign_in(page, officer)
    page.goto("/practice/privacy-policy/")
    expect(page.get_by_test_id("reauth-hint")).to_have_count(0)  # just signed in: fresh

    # Twenty minutes later (the session's confirmation older than CONFIDE_RECENT_AUTH_MINUTES) ...
    [cookie] = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[SESSION_AUTH_FRESH_AT] -= settings.CONFIDE_RECENT_AUTH_MINUTES * 60 + 600
    session.save()
    TOTPDevice.objects.filter(user=officer).update(last_t=-1)  # ... and the sign-in's code long gone by
    page.reload()
    expect(page.get_by_test_id("reauth-hint")).to_contain_text("what you typed here is kept")

    typed = '# Shorter recordings: "60d", agreed at the staff meeting\n[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'
    page.get_by_label("Override (TOML)").fill(typed)
    page.get_by_label("What changes, in one sentence").fill("Recordings are kept 60 days <not 90>.")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()

    page.get_by_label("Password").fill("not-the-password")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_role("alert")).to_contain_text("The password or code was not right.")
    with tenant_context(practice_id=e2e_world.practice.id):
        assert PolicyVersion.objects.count() == 1

    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_label("Code").fill(TOTPDevice.objects.get(user=officer, confirmed=True).current_code())
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_role("status").first).to_contain_text("Version 2 is published.")
    with tenant_context(practice_id=e2e_world.practice.id):
        latest = PolicyVersion.objects.order_by("number").last()
        assert (latest.number, latest.summary) == (2, "Recordings are kept 60 days <not 90>.")
        assert latest.override_toml.replace("\r\n", "\n") == typed  # every line, quotes and all
    assert all("status of 400" in problem for problem in page_problems.all()), page_problems.all()
