"""Initials in the private feed: only when the practice turns them on AND the policy in force
declares the `calendar-feed` egress in use (with an agreement on file); the gate is asked on
every fetch, and the names are read through the chart door as the feed's system job."""

from __future__ import annotations

import datetime

import icalendar
import pytest
import time_machine
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling import feed
from confide.scheduling.models import SchedulingSettings
from tests.conftest import sign_in
from tests.policy.helpers import publish_in_force
from tests.scheduling.world import book_at

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC)
DECLARED = '[[processors]]\nid = "calendar-feed"\nin_use = true\nbaa_on_file = true\n'
WITHDRAWN = '[[processors]]\nid = "calendar-feed"\nin_use = false\n'


def _owner(sw):
    return StaffActor.from_membership(sw.pw.memberships[Role.OWNER])


def _officer(sw):
    return StaffActor.from_membership(sw.pw.memberships[Role.PRIVACY_OFFICER])


def _summaries(client, token):
    body = client.get(reverse("scheduling:feed-ics", args=[token])).content
    return [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")], body.decode()


def test_initials_cannot_be_turned_on_unless_the_policy_declares_the_egress(sw):
    with pytest.raises(InvalidInput, match="calendar-feed"):
        feed.set_feed_initials(_owner(sw), True)
    with tenant_context(practice_id=sw.practice_id):
        assert not SchedulingSettings.objects.filter(feed_initials=True).exists()
    with pytest.raises(Forbidden):
        feed.set_feed_initials(StaffActor.from_membership(sw.pw.memberships[Role.CLINICIAN]), False)


def test_declared_and_on_the_feed_shows_initials_through_the_gate(sw, client):
    publish_in_force(actor=_officer(sw), override_toml=DECLARED, summary="Initials in clinicians' calendars.")
    feed.set_feed_initials(_owner(sw), True)
    assert AuditEntry.objects.filter(event="scheduling:feed:initials-changed", detail={"on": True}).exists()
    with time_machine.travel(NOW, tick=False):
        book_at(sw, "2027-03-09 10:00")
        token, _ = feed.issue(None, practice_id=sw.practice_id, membership_id=sw.clinician.id)
        allowed_before = AuditEntry.objects.filter(event="policy:egress:allowed").count()
        summaries, text = _summaries(client, token)
    assert summaries == ["Follow-up (M.Q.)"]  # Marisol Quintero (tests/access/conftest.py FULL)
    assert "Marisol" not in text and "Quintero" not in text
    egress = AuditEntry.objects.filter(event="policy:egress:allowed").order_by("-at").first()
    assert AuditEntry.objects.filter(event="policy:egress:allowed").count() == allowed_before + 1
    assert egress.detail.get("processor") == "calendar-feed" and "Marisol" not in str(egress.detail)


def test_initials_stop_when_the_policy_no_longer_declares_the_egress(sw, client):
    publish_in_force(actor=_officer(sw), override_toml=DECLARED, summary="Initials on.")
    feed.set_feed_initials(_owner(sw), True)
    publish_in_force(actor=_officer(sw), override_toml=WITHDRAWN, summary="Initials off.")
    with time_machine.travel(NOW, tick=False):
        book_at(sw, "2027-03-09 10:00")
        token, _ = feed.issue(None, practice_id=sw.practice_id, membership_id=sw.clinician.id)
        summaries, _ = _summaries(client, token)
    assert summaries == ["Follow-up"]  # the setting is still on; the gate said no on this fetch
    assert AuditEntry.objects.filter(event="policy:egress:refused").exists()


def test_the_page_says_why_initials_cannot_be_turned_on(world, sw, client):
    sign_in(client, world.a.users[Role.OWNER], world.a.practice)
    page = client.get(reverse("scheduling:feed"))
    assert b"does not declare them yet" in page.content
    refused = client.post(reverse("scheduling:feed"), {"action": "initials-on"})
    assert refused.status_code == 400 and b"privacy officer" in refused.content
    publish_in_force(actor=_officer(sw), override_toml=DECLARED, summary="Initials on.")
    assert client.post(reverse("scheduling:feed"), {"action": "initials-on"}).status_code == 200
    with tenant_context(practice_id=sw.practice_id):
        assert SchedulingSettings.objects.get().feed_initials
