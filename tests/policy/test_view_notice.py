"""POL1, POL3: /p/<practice>/privacy renders the declaration in force: every processor in use,
every retention period, the contacts, the age rule, the dates; older and upcoming versions."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.test import Client
from django.utils.html import escape
from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy.loader import load_default
from confide.policy.models import NoticeAcknowledgement
from tests.conftest import sign_in

CONTACTS = (
    '[contacts.privacy_officer]\nname = "Pat Privacy"\nemail = "privacy@a.example.test"\n\n'
    '[contacts.hipaa_compliance_officer]\nname = "Olu Owner"\nphone = "+1 415 555 0100"\n'
)


def _page(world, **kwargs) -> str:
    name = "policy:notice-version" if "number" in kwargs else "policy:notice"
    response = Client().get(reverse(name, kwargs={"practice_slug": world.a.practice.slug, **kwargs}))
    assert response.status_code == 200
    return response.content.decode()


def test_pol3_the_notice_lists_every_processor_in_use_every_period_and_the_contacts(world, publish):
    publish(CONTACTS)
    html = _page(world)
    default = load_default()
    for processor in default.processors:
        assert (escape(processor.name) in html) == processor.in_use, processor.id
    for rule in default.retention:
        assert escape(rule.label) in html, rule.id
    assert "Pat Privacy" in html and "privacy@a.example.test" in html and "Olu Owner" in html
    assert "hhs.gov/hipaa/filing-a-complaint" in html
    assert "Version 2" in html and "Data protection officer" not in html  # GDPR not in force


def test_pol3_a_missing_contact_is_said_plainly(world):
    html = _page(world)
    assert html.count('data-testid="missing-contact"') == 2  # privacy officer, HIPAA compliance officer


def _recordings_period(html: str) -> str:
    match = re.search(r'Telehealth session recordings</th><td data-testid="retention-period">([^<]+)</td>', html)
    assert match, "no row for telehealth recordings"
    return match.group(1)


def test_pol1_changing_a_retention_period_changes_the_notice(world, publish):
    assert _recordings_period(_page(world)) == "90 days"
    publish('[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n')
    assert _recordings_period(_page(world)) == "60 days"
    assert _recordings_period(_page(world, number=1)) == "90 days"  # the old version still says 90


def test_an_upcoming_version_is_announced_on_the_notice_in_force(world, publish):
    publish('[age]\nminimum = 13\n', days=40, material=True, summary="Teenagers from 13 with a guardian's authorization.")
    html = _page(world)
    assert 'data-testid="upcoming"' in html and "Teenagers from 13" in html
    assert "from age 18" in html  # still the rule in force
    assert "Between 13 and 18" in _page(world, number=2)


def test_an_unknown_version_is_a_404(world):
    response = Client().get(reverse("policy:notice-version", kwargs={"practice_slug": world.a.practice.slug, "number": 99}))
    assert response.status_code == 404


# --- seen (POL2) -------------------------------------------------------------------------------
def _seen(world) -> list:
    with tenant_context(practice_id=world.a.practice.id):
        return list(NoticeAcknowledgement.objects.values_list("subject_kind", "subject_id", "kind"))


def test_pol2_a_signed_in_staff_member_opening_the_version_page_is_recorded_as_having_seen_it(world, publish, signed_in):
    version = publish('[age]\nminimum = 13\n', days=40, material=True, summary="Teenagers from 13.")
    url = reverse("policy:notice-version", kwargs={"practice_slug": world.a.practice.slug, "number": version.number})
    client = signed_in(Role.FRONT_DESK)
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # a reload records nothing more
    assert _seen(world) == [("staff", str(world.a.user(Role.FRONT_DESK).pk), "seen")]


def test_seen_is_not_recorded_for_anonymous_visitors_or_another_practices_staff(world, publish):
    version = publish('[age]\nminimum = 13\n', days=40, material=True, summary="Teenagers from 13.")
    url = reverse("policy:notice-version", kwargs={"practice_slug": world.a.practice.slug, "number": version.number})
    assert Client().get(url).status_code == 200
    assert sign_in(Client(), world.b.owner, world.b.practice).get(url).status_code == 200
    half_signed_in = Client()  # password only, second factor not done
    half_signed_in.force_login(world.a.user(Role.BILLING), backend="django.contrib.auth.backends.ModelBackend")
    assert half_signed_in.get(url).status_code == 200
    assert _seen(world) == []


# --- the page itself -----------------------------------------------------------------------------
def test_the_header_shows_the_practices_name_not_a_sign_in_link(world):
    html = _page(world)
    header = html.split("<header", 1)[1].split("</header>", 1)[0]
    assert 'data-testid="public-practice-name">Practice A</span>' in header
    assert reverse("accounts:login") not in header


def test_the_laws_in_force_read_as_one_sentence(world):
    html = _page(world)
    assert "follows HIPAA, California (CCPA/CPRA) and other US state privacy laws (Colorado" in html
    assert "We answer we" not in html and "We confirm receipt within 10 business days and answer within 45 days" in html


def test_headings_go_down_one_level_at_a_time_and_there_are_no_inline_styles(world):
    html = _page(world)
    levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    assert "style=" not in html  # the CSP forbids them; printing is styled from app.css
    for landmark in ('role="banner"', "<main", 'role="contentinfo"', "<nav"):
        assert landmark in html


def test_a_printed_copy_says_where_it_came_from(world):
    html = _page(world, number=1)
    assert 'class="d-none d-print-block small" data-testid="printed-from">Printed from http://testserver/p/a/privacy/versions/1/' in html
    css = Path(finders.find("confide/app.css")).read_text(encoding="utf-8")
    assert "@media print" in css
