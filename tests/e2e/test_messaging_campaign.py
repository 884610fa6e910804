"""Issue 15, MSG2 and MSG3 in the browser: an e-mail campaign reaches exactly the patients who
agreed to news by e-mail, and one click on its unsubscribe link takes a patient off the next.

Three patients: Ann and Bo agreed to news and offers by e-mail (recorded by the front desk on
the phone, through the consent services), Cy did not. The front desk writes a campaign, sees
"2 patients", presses Send; the sending runs on the task queue with the real worker (as
production runs it) while the page's progress bar, asked again by htmx, reaches "Sent". Ann and
Bo each got one e-mail with RFC 8058's List-Unsubscribe headers; Cy got none. Ann opens her link:
the confirmation page changes nothing until she presses the button. A second campaign then reaches
Bo alone.
"""

from __future__ import annotations

from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.conftest import _build_practice
from tests.e2e.conftest import browser_sign_in
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE
from tests.messaging.email_helpers import add_patient, email_world


def _clean(page) -> None:
    assert page.evaluate(OVERFLOW_JS)["width"] <= PHONE["width"]
    assert page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS]) == []


SUBJECT = "Evening hours from April"


def _campaign_mail() -> list:
    """The campaign's e-mails (by their subject: the worker also sends the patients the notice of
    the privacy policy change that declared the e-mail processor, and the staff their own)."""
    return [m for m in mail.outbox if m.subject == SUBJECT]


def _write_and_send(page, run_tasks, *, name: str, audience: int) -> None:
    """The front desk writes an e-mail campaign, checks its audience, sends it, and watches the
    progress bar reach 100 %."""
    page.goto(reverse("messaging:campaign-list"))
    page.get_by_label("Name (for staff; patients do not see it)").fill(name)
    expect(page.get_by_label("E-mail", exact=True)).to_be_checked()
    page.get_by_label("E-mail subject (no patient information)").fill(SUBJECT)
    page.get_by_role("textbox", name="Message").fill("We are open until 8 pm on Tuesdays and Thursdays from April.")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    plural = "patient" if audience == 1 else "patients"
    expect(page.get_by_test_id("campaign-audience")).to_contain_text(f"{audience} {plural} agreed to news and offers by e-mail")
    _clean(page)
    page.get_by_test_id("campaign-send").click()
    progress = page.get_by_test_id("campaign-progress")
    expect(progress).to_have_attribute("data-status", "sending")
    # The page polls the progress part every 2 s. Playwright's sync API runs this route handler
    # only while the test thread is inside a Playwright call, so a poll made while the worker
    # below runs waits in the browser: the live server and the worker never share the (SQLite)
    # connection at the same moment. The bar then advances through htmx alone, no reload.
    page.route("**/progress/", lambda route: route.continue_())
    run_tasks()  # the campaign task writes one message per patient, then each message's send task
    run_tasks()  # (a send task queued by the campaign task's commit, should the first batch end before it)
    expect(progress).to_have_attribute("data-status", "sent", timeout=15_000)
    expect(progress).to_contain_text(f"Sent: {audience} of {audience} patients (100%)")
    expect(page.locator("#campaign-bar")).to_have_attribute("value", "100")
    page.unroute("**/progress/")
    _clean(page)


def test_an_email_campaign_reaches_only_consenting_patients_and_unsubscribe_takes_effect_MSG2_MSG3(
    browser, live_server, transactional_db, run_tasks
):
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import EmailOptOut

    pw = _build_practice("a", canary=False)
    ew = email_world(pw, consents=("marketing_email",), given_name="Ann", preferred_name="", email="ann@example.test")
    add_patient(ew, consents=("marketing_email",), given_name="Bo", preferred_name="", email="bo@example.test")
    add_patient(ew, consents=(), given_name="Cy", preferred_name="", email="cy@example.test")
    mail.outbox = []

    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        browser_sign_in(page, pw.users[Role.FRONT_DESK])
        page.wait_for_url("**/")
        _write_and_send(page, run_tasks, name="Spring news", audience=2)

        first = _campaign_mail()
        assert sorted(m.to[0] for m in first) == ["ann@example.test", "bo@example.test"]  # Cy agreed to nothing
        for message in first:
            assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert message.extra_headers["List-Unsubscribe"].startswith("<http") and "/u/" in message.extra_headers["List-Unsubscribe"]
        ann = next(m for m in first if m.to == ["ann@example.test"])
        link = ann.extra_headers["List-Unsubscribe"].strip("<>")
        assert link in ann.body  # the visible link in the text is the header's

        # Ann opens her link (in her own browser: no staff session). A GET only asks.
        patient_view = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
        patient_view.add_init_script(path=str(AXE))
        try:
            ann_page = patient_view.new_page()
            ann_page.goto(link[link.index("/u/"):])
            expect(ann_page.get_by_role("heading", level=1)).to_contain_text("Unsubscribe from Practice A's news and offers")
            _clean(ann_page)
            with tenant_context(practice_id=pw.practice.id):
                assert not EmailOptOut.objects.exists()  # opening the page changed nothing
            ann_page.get_by_role("button", name="Unsubscribe").click()
            expect(ann_page.get_by_test_id("unsubscribe-done")).to_contain_text("You are unsubscribed.")
            _clean(ann_page)
        finally:
            patient_view.close()

        mail.outbox = []
        _write_and_send(page, run_tasks, name="Summer news", audience=1)
        assert [m.to for m in _campaign_mail()] == [["bo@example.test"]]
    finally:
        context.close()
