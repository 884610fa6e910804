"""The queue as a screen and the request page (issue 17 item 3): each request's clock in words and
its risk in words (colour never alone), filters, the backlog chart with its table; the request
page with its deadlines, letters and timeline; a stale form answers 409 and changes nothing."""

from __future__ import annotations

import datetime

import time_machine
from django.urls import reverse
from django.utils import timezone

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import services
from confide.rights.models import RequestStatus, RightsRequest
from confide.rights.queue import backlog_bars, clock_words, risk_of
from tests.conftest import sign_in
from tests.rights.queue_helpers import fresh, letters

D = datetime.date
TODAY = D(2027, 1, 4)


def test_clock_and_risk_in_words():
    assert clock_words(D(2027, 1, 7), TODAY) == "due in 3 days"
    assert clock_words(D(2027, 1, 5), TODAY) == "due in 1 day"
    assert clock_words(TODAY, TODAY) == "due today"
    assert clock_words(D(2027, 1, 2), TODAY) == "2 days overdue"
    assert risk_of(D(2027, 1, 3), TODAY) == ("overdue", "Overdue")
    assert risk_of(D(2027, 1, 11), TODAY) == ("soon", "Due within 7 days")
    assert risk_of(D(2027, 1, 12), TODAY) == ("later", "On time")


def test_the_backlog_counts_requests_per_week_of_due_date_with_the_overdue_apart():
    bars = backlog_bars([D(2026, 12, 20), D(2027, 1, 4), D(2027, 1, 8), D(2027, 1, 12), D(2027, 9, 1)], TODAY)
    assert (bars[0].label, bars[0].total, bars[0].overdue) == ("Overdue, earlier weeks", 1, 1)
    assert (bars[1].label, bars[1].total) == ("Week of 4 Jan", 2)
    assert bars[2].total == 1 and bars[-1].total == 1  # later than the chart's weeks: in the last bar
    assert sum(b.total for b in bars) == 5


def _row(pw, patient, due_on, kind="other"):
    with tenant_context(practice_id=pw.practice.id):
        return RightsRequest.objects.create(practice=pw.practice, patient=patient, kind=kind, channel="phone", verification="staff",
                                            received_at=timezone.now() - datetime.timedelta(days=20), due_on=due_on)  # fmt: skip


def test_the_queue_shows_clocks_risks_filters_and_the_chart(client, world, portal):
    with time_machine.travel("2027-01-04T15:00:00Z", tick=False):
        _row(world.a, portal.adult.patient, D(2027, 1, 2))
        _row(world.a, portal.parent.patient, D(2027, 1, 7), kind="restrict")
        _row(world.a, None, D(2027, 2, 1), kind="delete")
        sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
        page = client.get(reverse("rights:queue")).content.decode()
        rows = page.split('data-testid="rights-request"')[1:]
        assert len(rows) == 3
        assert "2 days overdue" in rows[0] and "Overdue" in rows[0] and "Ada Portal" in rows[0] and 'data-risk="overdue"' in rows[0]
        assert "due in 3 days" in rows[1] and "Due within 7 days" in rows[1]
        assert "Not yet verified" in rows[2] and "On time" in rows[2] and "Phone" in rows[2]
        assert 'data-testid="backlog-chart"' in page and "The backlog as a table" in page
        overdue = client.get(reverse("rights:queue"), {"overdue": "1"}).content.decode()
        assert overdue.count('data-testid="rights-request"') == 1
        restrict = client.get(reverse("rights:queue"), {"kind": "restrict"}).content.decode()
        assert restrict.count('data-testid="rights-request"') == 1 and "Paula Parent" in restrict
        assert client.get(reverse("rights:queue"), {"kind": "nonsense", "status": "<x>"}).status_code == 200


def test_the_request_page_shows_what_was_asked_deadlines_and_the_panel(client, world, portal):
    with time_machine.travel("2027-01-04T15:00:00Z", tick=False):
        row = services.check_open_request(actor=portal.adult.actor, kind="restrict", detail="Please do not share with my employer.")
        sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
        page = client.get(reverse("rights:request", kwargs={"request_id": row.pk})).content.decode()
    assert "Ada Portal" in page and "Please do not share with my employer." in page
    assert "3 February 2027" in page and "Patient portal" in page and "Signed in to the portal" in page
    assert "HIPAA&#x27;s right to request restrictions" in page or "right to request restrictions" in page  # the restrict panel
    assert 'data-testid="extend-form"' in page and 'data-testid="close-form"' in page
    assert "Made a privacy request" in page  # the timeline, from the audit log


def test_extend_through_the_page_then_a_stale_form_gets_409(client, world, portal):
    with time_machine.travel("2027-01-04T15:00:00Z", tick=False):
        row = services.check_open_request(actor=portal.adult.actor, kind="see")
        sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
        url = reverse("rights:request-extend", kwargs={"request_id": row.pk})
        response = client.post(url, {"version": row.version, "reason": "complexity"})
        assert response.status_code == 302
        stale = client.post(reverse("rights:request-close", kwargs={"request_id": row.pk}), {"version": row.version, "outcome": "done"})
        assert stale.status_code == 409 and "changed meanwhile" in stale.content.decode()
        page = client.get(reverse("rights:request", kwargs={"request_id": row.pk})).content.decode()
    assert fresh(row).status == RequestStatus.RECEIVED and fresh(row).extended_due_on == D(2027, 3, 5)
    assert "Extension notice letter kept" in page and "Already extended once" in page
    assert [x.kind for x in letters(row)] == ["extension"]


def test_bad_input_on_the_page_is_a_400_with_the_message(client, world, portal):
    row = services.check_open_request(actor=portal.adult.actor, kind="see")
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    url = reverse("rights:request-close", kwargs={"request_id": row.pk})
    response = client.post(url, {"version": row.version, "outcome": "denied"})
    assert response.status_code == 400 and "Choose the basis of the denial" in response.content.decode()
    assert client.post(url, {"version": "x", "outcome": "done"}).status_code == 400
    assert fresh(row).version == row.version


def test_the_letter_page_shows_the_kept_text(client, world, portal):
    from confide.rights import decisions
    from tests.rights.queue_helpers import staff

    row = services.check_open_request(actor=portal.adult.actor, kind="see")
    decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="done")
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    page = client.get(reverse("rights:letter", kwargs={"letter_id": letters(row)[0].pk})).content.decode()
    assert "We have done what you asked" in page
