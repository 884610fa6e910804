"""Issue 17, done-when (part "export"): a patient files a request for a copy in the portal, the copy
is made (the queued task run by the real worker), the privacy page shows it ready, the patient
downloads the ZIP and it opens; the privacy page passes axe-core at phone width (390 px)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.test_portal_privacy import AXE, AXE_JS, patient_world  # noqa: F401  (the fixture)
from tests.factories import TEST_PASSWORD


def test_rts1_rts2_a_patient_asks_for_a_copy_and_downloads_the_zip(browser, live_server, patient_world, page_problems, tmp_path):  # noqa: F811
    from unittest import mock

    from django.core.management import call_command

    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
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
        expect(page.get_by_test_id("copy-fee")).to_contain_text("free")
        form = page.get_by_test_id("rights-form")
        form.get_by_label("Get a copy of my information").check()
        form.get_by_role("button", name="Send my request").click()
        page.wait_for_url("**/portal/privacy/#requests")
        panel = page.get_by_test_id("rights-export")
        expect(panel).to_have_attribute("data-status", "queued")

        # The worker runs the queued task (django_tasks' database backend), as `confide db_worker` does.
        with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
            call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        expect(page.get_by_test_id("rights-export")).to_have_attribute("data-status", "ready", timeout=20_000)  # htmx polled it

        violations = page.evaluate(AXE_JS)
        assert violations == [], violations
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        with page.expect_download() as download:
            page.get_by_test_id("rights-export-download").click()
        assert download.value.suggested_filename.startswith("my-information-")
        path = Path(download.value.path())
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            assert {"data.json", "fhir/bundle.json", "summary.pdf", "consents.json", "disclosures.json"} <= set(zf.namelist())
            data = json.loads(zf.read("data.json"))
            assert data["sections"]["records.Patient"][0]["data"]["identifiers.name"]["given_name"] == "Ada"
    finally:
        context.close()
    assert page_problems.page_errors == []
