"""POL1, POL3: /p/<practice>/privacy renders the declaration in force: every processor in use,
every retention period, the contacts, the age rule, the dates; older and upcoming versions."""

from __future__ import annotations

from django.test import Client
from django.utils.html import escape
from django.urls import reverse

from confide.policy.loader import load_default

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


def test_pol1_changing_a_retention_period_changes_the_notice(world, publish):
    assert "Telehealth session recordings</strong>: 90 days" in _page(world)
    publish('[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n')
    html = _page(world)
    assert "Telehealth session recordings</strong>: 60 days" in html
    assert "Telehealth session recordings</strong>: 90 days" in _page(world, number=1)  # the old version still says 90


def test_an_upcoming_version_is_announced_on_the_notice_in_force(world, publish):
    publish('[age]\nminimum = 13\n', days=40, material=True, summary="Teenagers from 13 with a guardian's authorization.")
    html = _page(world)
    assert 'data-testid="upcoming"' in html and "Teenagers from 13" in html
    assert "from age 18" in html  # still the rule in force
    assert "Between 13 and 18" in _page(world, number=2)


def test_an_unknown_version_is_a_404(world):
    response = Client().get(reverse("policy:notice-version", kwargs={"practice_slug": world.a.practice.slug, "number": 99}))
    assert response.status_code == 404
