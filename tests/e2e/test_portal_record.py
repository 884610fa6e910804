"""RTS1/RTS2 through a real browser: a patient signs in to the portal, reads "My record", asks
for the PDF summary, watches the progress bar reach "Ready" (htmx polls the status every
second while the worker makes the file), downloads it, and then the FHIR file too."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.e2e.conftest import VIEWPORT

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def portal_patient(e2e_world):
    """A patient with a full record and a portal account linked to it (no second factor: the
    practice does not require one for patients by default)."""
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.records.services import do_create_patient
    from tests.access.conftest import FULL
    from tests.portal_world import link, make_portal_user

    practice = e2e_world.practice
    with tenant_context(practice_id=practice.id):
        clinician = StaffActor.from_membership(Membership.objects.get(user=e2e_world.users[Role.CLINICIAN], practice=practice))
        patient = do_create_patient(actor=clinician, **FULL)
    user = make_portal_user("marisol@portal.example.test", "Marisol")
    link(user, patient)
    return user


def _make_and_download(page, run_tasks, button: str, link_name: str):
    page.get_by_role("button", name=button).click()
    progress = page.get_by_test_id("export-progress")
    expect(progress).to_have_attribute("data-status", "queued")
    expect(page.locator("progress#export-bar")).to_have_attribute("value", "0")
    run_tasks()  # the worker makes the file; the page sees it at its next poll
    expect(page.get_by_test_id("export-progress")).to_have_attribute("data-status", "done", timeout=10_000)
    expect(page.locator("progress#export-bar")).to_have_attribute("value", "100")
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    return info.value


def test_rts2_a_patient_reads_their_record_and_downloads_the_pdf_and_the_fhir_file(
    page, page_problems, live_server, portal_patient, run_tasks
):
    from tests.factories import TEST_PASSWORD

    page.set_viewport_size(PHONE)  # mobile first
    page.goto("/portal/signin/")
    page.get_by_label("Email").fill(portal_patient.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="My record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My record")
    expect(page.get_by_role("heading", name="Medicines")).to_be_visible()
    expect(page.locator("main")).to_contain_text("salbutamol")
    expect(page.locator("main")).to_contain_text("11 February 1984")
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.set_viewport_size(VIEWPORT)
    pdf = _make_and_download(page, run_tasks, "Make a PDF summary", "Download the PDF")
    assert pdf.suggested_filename.startswith("my-record-") and pdf.suggested_filename.endswith(".pdf")
    with open(pdf.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"

    page.get_by_role("link", name="Back to my record").click()
    fhir = _make_and_download(page, run_tasks, "Make a FHIR file (for health apps)", "Download the FHIR file")
    from fhir.resources.R4B.bundle import Bundle

    with open(fhir.path(), "rb") as fh:
        bundle = json.load(fh)
    Bundle.model_validate(bundle)
    assert any(e["resource"]["resourceType"] == "MedicationRequest" for e in bundle["entry"])
    assert page_problems.all() == []
