"""The README's screenshots, taken through the browser.

`make screenshots` sets CONFIDE_SCREENSHOTS_DIR=docs/img and so regenerates docs/img/*.png.
Without it (every ordinary test run) the pictures go to pytest's tmp_path and are only checked
to exist and to be more than a blank page: a test run never writes into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.e2e.conftest import VIEWPORT, browser_sign_in
from tests.factories import PracticeFactory

MIN_PNG_BYTES = 5 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _output_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("CONFIDE_SCREENSHOTS_DIR")
    if not configured:
        return tmp_path
    out = Path(configured)
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_screenshots_of_sign_in_and_dashboard(page, page_problems, e2e_world, tmp_path):
    from confide.core.tenancy import tenant_context
    from tests.factories import MembershipFactory

    # Like `confide demo`: the owner also works as a clinician in a second practice, so the
    # header shows the practice switcher.
    owner = e2e_world.users[Role.OWNER]
    north = PracticeFactory(slug="demo-north", name="Demo Physio North")
    with tenant_context(practice_id=north.id):
        MembershipFactory(user=owner, practice=north, role=Role.CLINICIAN)

    out = _output_dir(tmp_path)
    assert page.viewport_size == VIEWPORT

    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to Confide")).to_be_visible()
    page.screenshot(path=out / "signin.png")

    browser_sign_in(page, owner)
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo Family Therapy")
    expect(page.get_by_text("Signed in as Olivia Owner · Owner")).to_be_visible()
    page.mouse.move(0, VIEWPORT["height"] - 1)  # no hover effect in the picture
    page.screenshot(path=out / "dashboard.png")

    assert page_problems.all() == []
    for name in ("signin.png", "dashboard.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > MIN_PNG_BYTES, f"{name} is only {len(data)} bytes: a blank page?"


def test_screenshot_of_the_chart(page, page_problems, clinic, tmp_path):
    """chart.png: a clinician's view of a patient's clinical tab."""
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_add_item

    clinician = clinic.users[Role.CLINICIAN]
    with tenant_context(practice_id=clinic.practice.id):
        actor = StaffActor.from_membership(Membership.objects.get(user=clinician, practice=clinic.practice))
        do_add_item(actor=actor, patient_id=clinic.patient.id, list_name="medications",
                    item={"name": "Sertraline", "dose": "50 mg daily", "route": "oral", "kind": "prescription", "start": "2026-01-05"})
        do_add_item(actor=actor, patient_id=clinic.patient.id, list_name="medications",
                    item={"name": "Ibuprofen", "dose": "400 mg as needed", "route": "oral", "kind": "otc"})  # fmt: skip

    out = _output_dir(tmp_path)
    browser_sign_in(page, clinician)
    page.goto(f"/patients/{clinic.patient.id}/clinical/")
    expect(page.get_by_test_id("patient-name")).to_have_text("Marisol Quintero (Mari)")
    expect(page.locator("#medications")).to_contain_text("Sertraline")
    page.mouse.move(0, VIEWPORT["height"] - 1)
    page.screenshot(path=out / "chart.png")

    assert page_problems.all() == []
    data = (out / "chart.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > MIN_PNG_BYTES


def test_screenshots_of_the_audit_log_and_a_phone(page, page_problems, clinic, make_staff, tmp_path):
    """audit.png: the privacy officer's audit log after a clinician opened a chart (events in
    words, people by name); phone.png: the clinician's chart overview on a 390 px phone."""
    from confide.access.door import open_chart
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context

    privacy_officer = make_staff(clinic.practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    with tenant_context(practice_id=clinic.practice.id):
        clinician = StaffActor.from_membership(Membership.objects.get(user=clinic.users[Role.CLINICIAN], practice=clinic.practice))
        with open_chart(clinician, clinic.patient.id, Purpose.TREATMENT, categories={"identifiers.name"}):
            pass

    out = _output_dir(tmp_path)
    browser_sign_in(page, privacy_officer)
    page.goto("/audit/")
    expect(page.locator("tbody").get_by_text("Opened the chart").first).to_be_visible()
    page.mouse.move(0, VIEWPORT["height"] - 1)
    page.screenshot(path=out / "audit.png")

    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, clinic.users[Role.CLINICIAN])
    page.goto(f"/patients/{clinic.patient.id}/")
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=out / "phone.png")

    assert page_problems.all() == []
    for name in ("audit.png", "phone.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > MIN_PNG_BYTES, name


def test_screenshot_of_the_inbox(page, page_problems, clinic, make_staff, run_tasks, tmp_path):
    """inbox.png: the front desk's view of a short text conversation with a (synthetic) patient:
    her question, the reply sent by text, her answer."""
    import time_machine

    from confide.accounts.models import Membership
    from confide.consent.services import Subject, do_choose
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.messaging.services import receive_message, send_message
    from tests.messaging.conftest import SMS_DECLARED, local_time
    from tests.policy.helpers import publish_in_force

    practice, patient = clinic.practice, clinic.patient
    officer = make_staff(practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    out = _output_dir(tmp_path)
    # Tomorrow morning in California (the patient's time zone), a few minutes between messages:
    # within the hours a text may go.
    with tenant_context(practice_id=practice.id):
        def actor(user):
            return StaffActor.from_membership(Membership.objects.get(user=user, practice=practice))

        desk = actor(clinic.users[Role.FRONT_DESK])
        with time_machine.travel(local_time(9, 12), tick=True):
            publish_in_force(actor=actor(officer), override_toml=SMS_DECLARED, summary="Texts through the declared SMS processor.")
            for topic in ("sms_texts", "phi_by_sms"):
                do_choose(action="grant", actor=desk, subject=Subject.patient(practice.id, patient.pk), topic=topic, channel="phone",
                          method="staff_phone", shown_text="May we text you, with details? [She said yes.]")  # fmt: skip
            receive_message(practice_id=practice.id, patient_id=patient.pk, channel="sms",
                            body="Hi, could I move Thursday's appointment to the afternoon?")  # fmt: skip
        with time_machine.travel(local_time(9, 26), tick=True):
            send_message(desk, patient_id=patient.pk, channel="sms", topic="staff_reply",
                         body="Of course. Thursday at 3 pm is free. Shall I book it for you?")  # fmt: skip
            run_tasks()  # the reply goes out through the console adapter: "Delivery: Sent"
        with time_machine.travel(local_time(9, 31), tick=True):
            message = receive_message(practice_id=practice.id, patient_id=patient.pk, channel="sms", body="Yes please, 3 pm works. Thank you!")

    with time_machine.travel(local_time(9, 35), tick=True):
        browser_sign_in(page, clinic.users[Role.FRONT_DESK])
        page.get_by_role("button", name="I have read it").click()  # the policy change's banner, out of the picture
        page.goto(f"/inbox/threads/{message.thread_id}/")
        expect(page.get_by_test_id("thread-name")).to_contain_text("Marisol Quintero")
        expect(page.get_by_test_id("message-body")).to_have_count(3)
        expect(page.get_by_test_id("delivery").last).to_contain_text("Delivery: Sent")
        page.mouse.move(0, VIEWPORT["height"] - 1)
        page.screenshot(path=out / "inbox.png")

    assert page_problems.all() == []
    data = (out / "inbox.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > MIN_PNG_BYTES
