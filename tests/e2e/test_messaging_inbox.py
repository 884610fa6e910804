"""Issue 15, Done when: the front desk answers a patient's text from the inbox, at phone width.

A text arrives from Marisol (filed by services.receive_message, as the Twilio webhook files it),
the front desk signs in, sees the unread count in the navigation, opens the conversation, replies
by text, the send task delivers it through the console adapter, and the page says "Sent". The
body carries the canary: it never appears in the captured logs, nor in the outbox (the Outbox
page where this build has it; the console outbox's rows in any case hold only ciphertext). The
conversation page passes axe at 390 px and does not scroll sideways.
"""

from __future__ import annotations

import logging

import pytest
import time_machine
from django.db import connection
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from confide.core.permissions import Role
from tests.conftest import CANARIES
from tests.e2e.conftest import browser_sign_in
from tests.e2e.test_every_page import AXE, AXE_ALWAYS, AXE_IMPACTS, AXE_JS, AXE_TAGS, OVERFLOW_JS, PHONE
from tests.messaging.conftest import SMS_DECLARED, local_time

PATIENT_TEXT = f"Hi, the lab letter says {CANARIES['note']}, should I worry?"
REPLY = f"About {CANARIES['note']}: nothing to worry about, we will talk on Tuesday."


@pytest.fixture
def texted(clinic, make_staff):
    """The clinic's SMS processor declared, Marisol's consent to texts (and to details by text,
    so the reply carries its body to the outbox), and her text waiting in the inbox."""
    from confide.accounts.models import Membership
    from confide.consent.services import Subject, do_choose
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.messaging.services import receive_message
    from tests.policy.helpers import publish_in_force

    practice, patient = clinic.practice, clinic.patient
    officer = make_staff(practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    with tenant_context(practice_id=practice.id):
        def actor(user):
            return StaffActor.from_membership(Membership.objects.get(user=user, practice=practice))

        publish_in_force(actor=actor(officer), override_toml=SMS_DECLARED, summary="Texts through the declared SMS processor.")
        desk = actor(clinic.users[Role.FRONT_DESK])
        for topic in ("sms_texts", "phi_by_sms"):
            do_choose(action="grant", actor=desk, subject=Subject.patient(practice.id, patient.pk), topic=topic, channel="phone",
                      method="staff_phone", shown_text="May we text you, with details? [She said yes.]")  # fmt: skip
        message = receive_message(practice_id=practice.id, patient_id=patient.pk, channel="sms", body=PATIENT_TEXT)
    return message


def _axe_clean(page) -> None:
    overflow = page.evaluate(OVERFLOW_JS)
    assert overflow["width"] <= PHONE["width"], overflow
    violations = page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS])
    assert violations == [], violations


def test_issue_15_the_front_desk_replies_to_a_text_from_the_inbox(browser, live_server, clinic, texted, run_tasks, caplog):
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Message, OutboxEntry, Status, Topic

    caplog.set_level(logging.DEBUG)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        # 11:00 in San Francisco tomorrow: within the hours a text may go (quiet hours are tested elsewhere).
        with time_machine.travel(local_time(11), tick=True):
            browser_sign_in(page, clinic.users[Role.FRONT_DESK])
            inbox_link = page.get_by_test_id("nav-inbox")
            if not inbox_link.is_visible():  # below 768 px the menu folds behind its button
                page.get_by_role("button", name="Menu").click()
            expect(inbox_link).to_contain_text("1")
            inbox_link.click()
            expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
            row = page.get_by_test_id("thread-link")
            expect(row).to_contain_text("Marisol Quintero (Mari)")
            expect(row).to_contain_text("1 unread")
            _axe_clean(page)

            row.click()
            expect(page.get_by_test_id("conversation")).to_contain_text(PATIENT_TEXT)
            expect(page.get_by_label("Text message")).to_be_checked()  # the channel she wrote in
            _axe_clean(page)

            page.get_by_test_id("reply-body").fill(REPLY)
            page.get_by_test_id("reply-send").click()
            expect(page.get_by_role("status")).to_contain_text("Queued")

            run_tasks()  # the send task: the final gate, the console adapter, the status write
            with tenant_context(practice_id=clinic.practice.id):
                sent = Message.objects.get(topic=Topic.STAFF_REPLY)
            assert sent.status == Status.SENT and sent.carried == "body"
            page.reload()
            expect(page.get_by_test_id("delivery").last).to_contain_text("Delivery: Sent ")
            _axe_clean(page)

            expect(page.get_by_test_id("nav-inbox")).not_to_contain_text("unread")
            try:
                outbox_url = reverse("messaging:outbox")
            except NoReverseMatch:
                outbox_url = None
            if outbox_url:
                page.goto(outbox_url)
                assert CANARIES["note"] not in page.content()
    finally:
        context.close()

    # The console outbox holds the text once, as ciphertext; the logs never held the body.
    with tenant_context(practice_id=clinic.practice.id):
        assert OutboxEntry.objects.filter(message=sent).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM messaging_outboxentry")
        stored = [str(row[0]) for row in cursor.fetchall()]
        cursor.execute("SELECT body FROM messaging_message")
        stored += [str(row[0]) for row in cursor.fetchall()]
    assert stored and not [s for s in stored if CANARIES["note"] in s]
    assert CANARIES["note"] not in caplog.text
    assert caplog.records  # the logs were captured (the request lines, the sends)
