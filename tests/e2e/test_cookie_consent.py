"""TRK2, TRK3 in a real browser: every request the page makes is recorded (`page.on("request")`).
Nothing for analytics loads before consent; one click on Allow, then exactly one beacon; with
Global Privacy Control the visit records an opt-out in the ledger and no analytics loads; a
GPC signal against an earlier opt-in asks once, and "Allow anyway" stands; the banner works
without JavaScript."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from confide.consent.models import ConsentEvent, UsageCount
from confide.core.tenancy import tenant_context
from tests.e2e.conftest import VIEWPORT
from tests.factories import PracticeFactory

NOTICE = "/p/demo/privacy/"


@pytest.fixture
def practice(transactional_db):
    cache.clear()  # the new-visitor cap counts in the (process-wide) cache
    return PracticeFactory(slug="demo", name="Demo Family Therapy")


@pytest.fixture
def requests_seen(page) -> list:
    seen = []
    page.on("request", lambda request: seen.append((request.method, request.url)))
    return seen


def _analytics(seen: list) -> list:
    return [(method, url) for method, url in seen if "/a/collect" in url or "analytics.js" in url]


def _beacons(seen: list) -> list:
    return [(method, url) for method, url in seen if url.endswith("/p/demo/a/collect")]


def _ledger(practice) -> list[tuple]:
    """(topic, action, method) of every event, oldest first (events of one moment by topic)."""
    with tenant_context(practice_id=practice.id):
        return list(ConsentEvent.objects.order_by("at", "topic").values_list("topic", "action", "method"))


def _views(practice) -> list[tuple]:
    with tenant_context(practice_id=practice.id):
        return list(UsageCount.objects.values_list("route", "count"))


def test_trk2_nothing_for_analytics_loads_before_consent_and_allow_sends_exactly_one_beacon(page, page_problems, practice, requests_seen):
    page.goto(NOTICE)
    page.wait_for_load_state("networkidle")
    banner = page.get_by_test_id("cookie-banner")
    expect(banner).to_be_visible()
    assert _analytics(requests_seen) == []

    with page.expect_request(lambda request: request.url.endswith("/p/demo/a/collect")):
        banner.get_by_role("button", name="Allow usage statistics").click()
    page.wait_for_load_state("networkidle")

    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice of Demo Family Therapy")
    expect(page.get_by_text("Saved: usage statistics is on.")).to_be_visible()
    expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
    assert len(_beacons(requests_seen)) == 1 and _beacons(requests_seen)[0][0] == "POST"
    assert [url for _, url in _analytics(requests_seen) if "analytics.js" in url] == [f"{page.url.split('/p/')[0]}/static/confide/analytics.js"]
    assert _ledger(practice) == [("analytics_cookies", "grant", "form_button")]
    assert _views(practice) == [("policy:notice", 1)]
    assert page_problems.all() == []  # no CSP violation, no failed load


def test_trk3_with_gpc_the_visit_records_an_opt_out_and_no_analytics_loads(browser, live_server, practice):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, extra_http_headers={"Sec-GPC": "1"})
    try:
        page = context.new_page()
        seen, problems = [], []
        page.on("request", lambda request: seen.append((request.method, request.url)))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.goto(NOTICE)
        page.wait_for_load_state("networkidle")
        expect(page.get_by_test_id("cookie-banner")).to_have_count(0)  # the signal is the answer

        assert _ledger(practice) == [("analytics_cookies", "decline", "gpc_header"), ("sale_share_opt_out", "grant", "gpc_header")]
        [cookie] = [c for c in context.cookies() if c["name"] == "confide_visitor"]
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/p/demo/")

        page.get_by_role("navigation", name="Privacy").get_by_role("link", name="Privacy choices").click()
        expect(page.get_by_test_id("signals")).to_contain_text("Global Privacy Control: on")
        page.get_by_role("navigation", name="Privacy").get_by_role("link", name="Do Not Sell or Share My Personal Information").click()
        expect(page.get_by_test_id("sale-state")).to_have_text("You are opted out, because your browser sends Global Privacy Control.")
        page.wait_for_load_state("networkidle")
        assert _analytics(seen) == []
        assert len(_ledger(practice)) == 2  # once per visitor, not once per page
        assert _views(practice) == [] and problems == []
    finally:
        context.close()


def test_trk3_gpc_against_an_earlier_opt_in_asks_once_and_allow_anyway_stands(page, page_problems, practice, requests_seen):
    page.goto(NOTICE)
    page.get_by_role("button", name="Allow usage statistics").click()
    page.wait_for_load_state("networkidle")
    assert len(_beacons(requests_seen)) == 1

    page.set_extra_http_headers({"Sec-GPC": "1"})
    page.goto(NOTICE)
    page.wait_for_load_state("networkidle")
    question = page.get_by_test_id("signal-question")
    expect(question).to_contain_text("Your browser asks us not to track your visits (Global Privacy Control)")
    expect(question).to_contain_text("You earlier allowed usage statistics")
    assert len(_beacons(requests_seen)) == 1  # the live signal wins at once: no beacon

    with page.expect_request(lambda request: request.url.endswith("/p/demo/a/collect")):
        question.get_by_role("button", name="Allow anyway").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("signal-question")).to_have_count(0)
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("signal-question")).to_have_count(0)  # asked once
    assert len(_beacons(requests_seen)) == 3
    with tenant_context(practice_id=practice.id):
        conflicts = list(ConsentEvent.objects.filter(conflict=True).values_list("topic", "action"))
    assert conflicts == [("analytics_cookies", "withdraw")]
    assert page_problems.all() == []


def test_trk2_the_banner_works_without_javascript(browser, live_server, practice):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(NOTICE)
        page.get_by_role("button", name="No thanks").click()
        expect(page.get_by_text("Saved: usage statistics stays off.")).to_be_visible()
        expect(page.get_by_test_id("cookie-banner")).to_have_count(0)
        assert _ledger(practice) == [("analytics_cookies", "decline", "form_button")]
        page.get_by_role("navigation", name="Privacy").get_by_role("link", name="Privacy choices").click()
        page.get_by_role("button", name="Allow usage statistics").click()
        page.get_by_role("button", name="Turn usage statistics off").click()
        assert [a for _, a, _ in _ledger(practice)] == ["decline", "grant", "withdraw"]
    finally:
        context.close()
