"""The practice website: 404 until published; its pages (team, services, locations and hours);
SEO basics with schema.org MedicalBusiness JSON-LD under a CSP nonce; the owner's theme refuses
a colour white text cannot be read on (WCAG AA 4.5:1)."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.directory.models import Website
from confide.directory.services import contrast_with_white
from confide.scheduling.models import AppointmentType, Location, WorkingHours
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def _url(world, name, **kwargs):
    return reverse(f"directory:{name}", kwargs={"practice_slug": world.a.practice.slug, **kwargs})


def _owner(world):
    return sign_in(Client(), world.a.user(Role.OWNER), world.a.practice)


def _publish(world, **extra):
    data = {"published": "1", "tagline": "Care close to home", "about": "A small practice.", "primary_colour": "#1f5f8b", **extra}
    return _owner(world).post(reverse("directory:website"), data)


def test_an_unpublished_website_answers_404_and_the_notice_stays(world):
    assert Client().get(_url(world, "home")).status_code == 404
    assert Client().get(reverse("policy:notice", kwargs={"practice_slug": world.a.practice.slug})).status_code == 200
    assert _publish(world).status_code == 302
    assert Client().get(_url(world, "home")).status_code == 200


def test_home_has_title_description_canonical_and_json_ld_naming_the_practice_under_a_nonce(world):
    _publish(world)
    response = Client().get(_url(world, "home"))
    body = response.content.decode()
    assert f"<title>{world.a.practice.name}" in body
    assert '<meta name="description" content="Care close to home">' in body
    assert f'rel="canonical" href="http://testserver/p/{world.a.practice.slug}/"' in body
    block = re.search(r'<script type="application/ld\+json" nonce="([^"]+)">(.*?)</script>', body, re.S)
    assert block, "the JSON-LD block is there"
    data = json.loads(block.group(2))
    assert data["@type"] == "MedicalBusiness" and data["name"] == world.a.practice.name
    csp = response["Content-Security-Policy"]
    assert f"'nonce-{block.group(1)}'" in csp and "'unsafe-inline'" not in csp
    assert "/book/" in body and "/consult/" in body and "/privacy/" in body
    # Another page carries no nonce: the exception is only where the block is.
    assert "nonce-" not in Client().get(_url(world, "team"))["Content-Security-Policy"]


def test_services_locations_and_hours_come_from_the_calendar(world):
    _publish(world)
    practice_id = world.a.practice.id
    with tenant_context(practice_id=practice_id):
        AppointmentType.objects.create(practice_id=practice_id, name="First session", duration_minutes=50, price_cents=15000, bookable_online=True)
        AppointmentType.objects.create(practice_id=practice_id, name="Staff only", duration_minutes=30, bookable_online=False)
        place = Location.objects.create(practice_id=practice_id, name="Main office", address="1 Elm Street\nSpringfield")
        clinician = world.a.memberships[Role.CLINICIAN]
        WorkingHours.objects.create(practice_id=practice_id, clinician=clinician, weekday=0, starts=datetime.time(9), ends=datetime.time(13), location=place)
        WorkingHours.objects.create(practice_id=practice_id, clinician=world.a.memberships[Role.OWNER], weekday=0, starts=datetime.time(12),
                                    ends=datetime.time(17))  # fmt: skip
    services = Client().get(_url(world, "services")).content.decode()
    assert "First session" in services and "50 minutes" in services and "$150.00" in services
    assert "Staff only" not in services
    where = Client().get(_url(world, "locations")).content.decode()
    assert "Main office" in where and "1 Elm Street" in where
    assert re.search(r"Monday</th><td>09:00–17:00", where)  # the union of the clinicians' hours


@pytest.mark.parametrize(("colour", "ok"), [("#1f5f8b", True), ("#ffcc00", False), ("#777777", False), ("#595959", True)])
def test_a_primary_colour_below_wcag_aa_against_white_is_refused_with_the_reason(world, colour, ok):
    response = _publish(world, primary_colour=colour)
    with tenant_context(practice_id=world.a.practice.id):
        stored = Website.objects.filter(practice_id=world.a.practice.id).values_list("primary_colour", flat=True).first()
    if ok:
        assert response.status_code == 302 and stored == colour
        css = Client().get(_url(world, "theme"))
        assert css["Content-Type"].startswith("text/css") and colour in css.content.decode()
    else:
        assert response.status_code == 400
        assert "4.5:1" in response.content.decode() and f"{contrast_with_white(colour):.2f}:1" in response.content.decode()
        assert stored in (None, "#1f5f8b")  # nothing written


def test_the_website_settings_are_the_owners_only(world):
    clinician = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    assert clinician.post(reverse("directory:website"), {"published": "1", "primary_colour": "#1f5f8b"}).status_code == 403
    assert Client().get(_url(world, "home")).status_code == 404
