"""Issue 16, Done when: a clinician connects Google (a Google-shaped OAuth server on loopback that
approves at once), sees their busy blocks on the Google Calendar page, revokes, and the blocks
disappear at once (SCH2, SCH3)."""

from __future__ import annotations

import datetime

import pytest
from playwright.sync_api import expect

from confide.core.permissions import Role
from confide.scheduling import google
from tests.e2e.conftest import browser_sign_in
from tests.scheduling.fake_google import CLIENT_ID, CLIENT_SECRET, FakeGoogle


@pytest.fixture
def fake(settings, live_server):
    settings.CONFIDE_BASE_URL = live_server.url  # the redirect URI Google sends the browser back to
    with FakeGoogle() as server:
        settings.CONFIDE_GOOGLE_API_BASE = server.base
        settings.CONFIDE_GOOGLE_CLIENT_ID = CLIENT_ID
        settings.CONFIDE_GOOGLE_CLIENT_SECRET = CLIENT_SECRET
        google.forget_all()
        yield server
        google.forget_all()


def test_sch3_a_clinician_connects_google_sees_busy_blocks_and_revokes_them_away(page, e2e_world, fake, page_problems):
    day = datetime.datetime.now(datetime.UTC).date()
    fake.events = [fake.event(f"{day}T15:00:00Z", f"{day}T16:00:00Z", "Dentist appointment")]
    browser_sign_in(page, e2e_world.users[Role.CLINICIAN])
    page.goto("/calendar/google/")
    expect(page.get_by_test_id("google-status")).to_contain_text("Not connected")

    page.get_by_role("button", name="Connect Google Calendar").click()  # → Google → back here
    expect(page.get_by_text("Google Calendar connected (read-only)")).to_be_visible()
    expect(page.get_by_test_id("google-block")).to_have_count(1)
    expect(page.get_by_test_id("google-block")).to_contain_text("Dentist appointment")
    assert fake.seen("/o/oauth2/v2/auth")[0].query["scope"] == google.READONLY_SCOPE
    # The calendar's own week view draws the same block, with its title for its owner.
    page.goto("/calendar/")
    expect(page.get_by_test_id("busy-block")).to_have_count(1)
    expect(page.get_by_test_id("busy-block")).to_contain_text("Dentist appointment")
    page.goto("/calendar/google/")

    page.get_by_role("button", name="Disconnect Google Calendar").click()
    expect(page.get_by_text("Google Calendar disconnected")).to_be_visible()
    expect(page.get_by_test_id("google-block")).to_have_count(0)
    expect(page.get_by_role("button", name="Connect Google Calendar")).to_be_visible()
    assert "Dentist appointment" not in page.content()
    assert len(fake.seen("/revoke")) == 1
    page.goto("/calendar/")
    expect(page.get_by_test_id("calendar-grid")).to_be_visible()
    expect(page.get_by_test_id("busy-block")).to_have_count(0)
    assert "Dentist appointment" not in page.content()
    assert page_problems.all() == []
