"""MIN3, the 18th birthday during a session: a parent reads their teenager's record before
midnight; the daily job runs on the birthday; the parent's next page says, once, that access to
that record ended (the first name they saw until then, nothing clinical) and shows their own
record; the chart door refuses the ended link at once; the adult is invited; the parent got the
e-mail; the audit entries carry ids only."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from confide.access.door import open_chart
from confide.accounts.models import LinkKind
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import NotFound
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.records.majority import end_representation_at_majority
from tests.portal_world import actor_for, create_patient, link, portal_sign_in

MESSAGE = "Your access to Tess&#x27;s record ended because they turned 18."


@pytest.fixture
def invitations(monkeypatch):
    calls = []
    monkeypatch.setattr("confide.accounts.portal_invitations.issue_portal_invitation", lambda **kw: calls.append(kw))
    return calls


def _born_18_years_before(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year - 18)
    except ValueError:  # 29 February: 28 February 18 years before is a day early; 1 March is the day
        return day.replace(year=day.year - 18, month=3, day=1)


def _read_teen(actor):
    with tenant_context(practice_id=actor.practice_id):
        with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={"identifiers.name"}) as chart:
            return chart.patient.given_name


def test_min3_at_midnight_on_the_18th_birthday_the_parent_loses_access_mid_session(
    client, world, portal, invitations, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    birthday = today + datetime.timedelta(days=1)
    before = timezone.make_aware(datetime.datetime.combine(today, datetime.time(23, 55)))
    teen = create_patient(world.a, given_name="Tess", family_name="Parent", preferred_name="",
                          date_of_birth=_born_18_years_before(birthday), email="tess@a.portal.test")  # fmt: skip
    teen_link = link(portal.parent.user, teen, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=world.a.owner)

    with time_machine.travel(before, tick=False) as clock:
        portal_sign_in(client, portal.parent.user)
        client.post(reverse("portal:switch"), {"link_id": str(teen_link.pk)})
        page = client.get(reverse("portal:home")).content.decode()
        assert "Tess" in page and "turned 18" not in page
        assert _read_teen(actor_for(teen_link)) == "Tess"
        assert end_representation_at_majority().came_of_age == []  # 17 until midnight

        clock.move_to(before + datetime.timedelta(minutes=10))  # 00:05 on the birthday
        with django_capture_on_commit_callbacks(execute=True):
            run = end_representation_at_majority()
        assert run.came_of_age == [teen.pk]

        # the door refuses the ended link at once: the record answers as missing
        with pytest.raises(NotFound):
            _read_teen(actor_for(teen_link))

        # the next page says so, once, and shows the parent's own record
        response = client.get(reverse("portal:home"))
        assert response.status_code == 200
        page = response.content.decode()
        assert MESSAGE in page
        assert "Paula" in page and str(teen_link.pk) not in page
        again = client.get(reverse("portal:home")).content.decode()
        assert MESSAGE not in again and "turned 18" not in again

    # the adult is invited to their own account; the parent was told, without a name
    assert invitations == [{"practice_id": world.a.practice.id, "patient_id": teen.pk, "email": "tess@a.portal.test",
                            "kind": LinkKind.SELF, "invited_by_id": None}]  # fmt: skip
    [told] = [m for m in mail.outbox if m.to == [portal.parent.user.email]]
    assert "turned 18" in told.body and "Tess" not in told.body

    # audit: the ending, the refused opening and the notice's name read, ids and categories only
    ended = AuditEntry.objects.get(event=AuditEvent.PORTAL_LINK_ENDED, subject_id=teen.pk)
    assert ended.resource_ids == [str(teen_link.pk)] and ended.reason == "age_of_majority"
    refused = AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED, subject_id=teen.pk).latest("id")
    assert refused.reason == "portal_link_inactive" and refused.actor_id == str(portal.parent.user.pk)
    notice = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, subject_id=teen.pk, actor_id="portal-ended-notice-job").get()
    assert list(notice.categories) == ["identifiers.name"]
    for entry in AuditEntry.objects.filter(subject_id=teen.pk):
        assert "Tess" not in str(entry.detail) and "tess@" not in str(entry.detail)


def test_min3_a_parent_viewing_their_own_record_is_told_too(client, world, portal, invitations):
    teen = create_patient(world.a, given_name="Tess", family_name="Parent", preferred_name="",
                          date_of_birth=_born_18_years_before(timezone.localdate()), email="tess@a.portal.test")  # fmt: skip
    link(portal.parent.user, teen, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=world.a.owner)
    portal_sign_in(client, portal.parent.user)
    assert "turned 18" not in client.get(reverse("portal:home")).content.decode()  # own record is current
    end_representation_at_majority()
    page = client.get(reverse("portal:home")).content.decode()
    assert MESSAGE in page


def test_min3_a_link_ended_for_another_reason_shows_no_birthday_notice(client, world, portal):
    from confide.accounts.models import PortalLink

    portal_sign_in(client, portal.parent.user)
    client.get(reverse("portal:home"))
    with tenant_context(practice_id=world.a.practice.id):
        PortalLink.objects.filter(pk=portal.child_link.pk).update(is_active=False, ended_at=timezone.now(), ended_reason="revoked")
    page = client.get(reverse("portal:home")).content.decode()
    assert "turned 18" not in page
