"""The private iCalendar feed (issue 16 item 5): content, no PHI, rotate/revoke, the page, the CLI."""

from __future__ import annotations

import datetime

import icalendar
import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling import feed, services
from confide.scheduling.models import CalendarFeed, CancelReason
from tests.conftest import CANARIES, sign_in
from tests.scheduling.world import at, book_at

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC)


def _issue(sw):
    token, _ = feed.issue(None, practice_id=sw.practice_id, membership_id=sw.clinician.id, via="cli")
    return token


def _events(client, token):
    response = client.get(reverse("scheduling:feed-ics", args=[token]))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/calendar")
    assert "no-store" in response["Cache-Control"]
    return response.content, list(icalendar.Calendar.from_ical(response.content).walk("VEVENT"))


@time_machine.travel(NOW, tick=False)
def test_the_feed_has_type_time_place_and_no_patient_data(sw, client):
    booked = book_at(sw, "2027-03-09 10:00")
    cancelled = book_at(sw, "2027-03-10 10:00")
    services.cancel(sw.front_desk, cancelled.pk, version=cancelled.version, reason=CancelReason.PATIENT_REQUEST)
    book_at(sw, "2027-01-05 10:00")  # more than 30 days back: left out
    book_at(sw, "2027-09-20 10:00")  # more than 180 days ahead: left out
    body, events = _events(client, _issue(sw))
    by_uid = {str(e["UID"]): e for e in events}
    assert set(by_uid) == {f"{booked.pk}@confide", f"{cancelled.pk}@confide"}
    first = by_uid[f"{booked.pk}@confide"]
    assert str(first["SUMMARY"]) == "Follow-up"
    assert first.decoded("DTSTART") == at("2027-03-09 10:00")
    assert "DTSTART:20270309T150000Z" in body.decode() and "DTEND:20270309T155000Z" in body.decode()  # UTC, no zone table
    assert first.decoded("DTEND") == at("2027-03-09 10:50")
    assert str(first["LOCATION"]) == "Main office" and str(first["STATUS"]) == "CONFIRMED"
    assert first.decoded("SEQUENCE") == 1
    gone = by_uid[f"{cancelled.pk}@confide"]
    assert str(gone["STATUS"]) == "CANCELLED" and gone.decoded("SEQUENCE") == 2
    text = body.decode()
    for canary in (CANARIES["name"], "Zebulon", "Canarywood", CANARIES["email"], CANARIES["phone"], CANARIES["dob"], str(sw.patient.id), "Marisol", "Quintero", "M.Q."):
        assert canary not in text
    assert "ATTENDEE" not in text and "DESCRIPTION" not in text


@time_machine.travel(NOW, tick=False)
def test_a_moved_appointment_keeps_its_uid_and_raises_its_sequence(sw, client):
    booked = book_at(sw, "2027-03-09 10:00")
    token = _issue(sw)
    services.move(sw.front_desk, booked.pk, version=booked.version, starts_at=at("2027-03-09 14:00"))
    _, [event] = _events(client, token)
    assert str(event["UID"]) == f"{booked.pk}@confide" and event.decoded("SEQUENCE") == 2
    assert event.decoded("DTSTART") == at("2027-03-09 14:00")


def test_fetches_are_counted_not_logged(sw, client):
    token = _issue(sw)
    before = AuditEntry.objects.count()
    _events(client, token)
    _events(client, token)
    assert AuditEntry.objects.count() == before
    with tenant_context(practice_id=sw.practice_id):
        assert CalendarFeed.objects.get().fetch_count == 2


def test_rotating_stops_the_old_url_at_once_and_revoking_stops_the_new(sw, client):
    old = _issue(sw)
    new, rotated = feed.issue(None, practice_id=sw.practice_id, membership_id=sw.clinician.id)
    assert rotated and new != old
    assert client.get(reverse("scheduling:feed-ics", args=[old])).status_code == 404
    _events(client, new)
    assert feed.revoke(None, practice_id=sw.practice_id, membership_id=sw.clinician.id)
    assert client.get(reverse("scheduling:feed-ics", args=[new])).status_code == 404
    with tenant_context(practice_id=sw.practice_id):
        row = CalendarFeed.objects.get()
    assert row.token_hash is None and row.revoked_at is not None
    events = list(AuditEntry.objects.filter(event__startswith="scheduling:feed:").order_by("at").values_list("event", "resource_ids", "detail"))
    assert [e[0] for e in events] == ["scheduling:feed:created", "scheduling:feed:rotated", "scheduling:feed:revoked"]
    assert all(e[1] == [str(row.pk)] for e in events)
    for entry in AuditEntry.objects.filter(event__startswith="scheduling:feed:"):
        assert old not in str(entry.detail) and new not in str(entry.detail)


def test_only_the_hash_is_stored(sw):
    token = _issue(sw)
    with tenant_context(practice_id=sw.practice_id):
        row = CalendarFeed.objects.get()
    assert row.token_hash == feed.token_hash(token) and token.split(".")[1] not in row.token_hash


@pytest.mark.parametrize("junk", ["nothing", "0" * 32 + "." + "A" * 43, "zz.." + "A" * 50])
def test_an_unknown_token_is_a_404(sw, client, junk):
    _issue(sw)
    assert client.get(reverse("scheduling:feed-ics", args=[junk])).status_code == 404


def test_a_token_of_another_practice_reads_nothing_there(world, sw, client):
    token = _issue(sw)
    forged = f"{world.b.practice.id.hex}.{token.split('.', 1)[1]}"
    assert client.get(reverse("scheduling:feed-ics", args=[forged])).status_code == 404


def test_the_front_desk_has_no_feed(sw):
    with pytest.raises(Exception, match="Only a clinician"):
        feed.issue(None, practice_id=sw.practice_id, membership_id=sw.pw.memberships[Role.FRONT_DESK].id)


# --- The clinician's page ---------------------------------------------------------------------------
def test_the_page_shows_the_url_once_then_only_that_the_feed_is_on(world, sw, client):
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    page = client.get(reverse("scheduling:feed"))
    assert page.status_code == 200 and b"Create my feed" in page.content
    created = client.post(reverse("scheduling:feed"), {"action": "create"})
    assert created.status_code == 200
    url = created.context["new_url"]
    assert url.endswith(".ics") and url.encode() in created.content
    token = url.rsplit("/", 1)[1][: -len(".ics")]
    _events(client, token)
    again = client.get(reverse("scheduling:feed"))
    assert token.encode() not in again.content and b"Your feed is on" in again.content
    rotated = client.post(reverse("scheduling:feed"), {"action": "rotate"})
    assert b"previous address stopped working" in rotated.content
    assert client.get(reverse("scheduling:feed-ics", args=[token])).status_code == 404
    off = client.post(reverse("scheduling:feed"), {"action": "revoke"})
    assert b"no longer works" in off.content
    new_token = rotated.context["new_url"].rsplit("/", 1)[1][: -len(".ics")]
    assert client.get(reverse("scheduling:feed-ics", args=[new_token])).status_code == 404


def test_the_page_refuses_an_unknown_action_and_a_front_desk_feed(world, sw, client):
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    assert client.post(reverse("scheduling:feed"), {"action": "explode"}).status_code == 400
    sign_in(client, world.a.users[Role.FRONT_DESK], world.a.practice)
    response = client.post(reverse("scheduling:feed"), {"action": "create"})
    assert response.status_code == 400 and b"Only a clinician" in response.content
    with tenant_context(practice_id=sw.practice_id):
        assert not CalendarFeed.objects.exists()


# --- The CLI ---------------------------------------------------------------------------------------
def test_cli_prints_a_working_url_and_says_the_older_one_stopped(world, sw, client, capsys, settings):
    settings.CONFIDE_BASE_URL = "https://confide.example.org"
    call_command("calendar", "feed", "--clinician", CANARIES["email"].upper())
    first = capsys.readouterr().out.splitlines()
    assert first[0].startswith("https://confide.example.org/calendar/feed/") and first[0].endswith(".ics")
    old_token = first[0].rsplit("/", 1)[1][:-4]
    _events(client, old_token)
    call_command("calendar", "feed", "--clinician", CANARIES["email"], "--practice", "a")
    second = capsys.readouterr().out.splitlines()
    assert "older feed URL stopped working" in second[1]
    assert client.get(reverse("scheduling:feed-ics", args=[old_token])).status_code == 404
    _events(client, second[0].rsplit("/", 1)[1][:-4])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clinician", "nobody@example.test"], "no account has that e-mail"),
        (["--clinician", "front_desk@a.example.test"], "not a clinician"),
        (["--clinician", CANARIES["email"], "--practice", "nope"], "no practice has the slug"),
        (["--clinician", CANARIES["email"], "--practice", "b"], "not an active member of that practice"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_status_2(world, sw, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        call_command("calendar", "feed", *args)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    with tenant_context(practice_id=sw.practice_id):
        assert not CalendarFeed.objects.exists()


def test_cli_asks_which_practice_for_a_clinician_of_several(world, sw, capsys):
    from tests.factories import MembershipFactory

    with tenant_context(practice_id=world.b.practice.id):
        MembershipFactory(user=world.a.users[Role.CLINICIAN], practice=world.b.practice, role=Role.CLINICIAN)
    with pytest.raises(SystemExit) as stop:
        call_command("calendar", "feed", "--clinician", CANARIES["email"])
    assert stop.value.code == 2 and "--practice" in capsys.readouterr().err
    call_command("calendar", "feed", "--clinician", CANARIES["email"], "--practice", "b")
    assert capsys.readouterr().out.startswith("http")
