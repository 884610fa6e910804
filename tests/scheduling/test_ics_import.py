"""Import of an .ics file as blocked time (issue 16 item 5): busy blocks titled "Busy" only,
RRULEs bounded, re-import replaces, a bad or huge file writes nothing."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling import ics_import
from confide.scheduling.models import BlockedSource, BlockedTime
from confide.scheduling.slots import free_slots
from tests.conftest import sign_in
from tests.scheduling.world import at

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC)
SECRET_TITLE = "Therapy for me - canary-diagnosis-xyzzy"


def ics(*events: str) -> bytes:
    body = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *events, "END:VCALENDAR", ""])
    return body.encode()


def vevent(uid: str, start: str, end: str, *extra: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", f"DTSTART{start}", f"DTEND{end}",
                        f"SUMMARY:{SECRET_TITLE}", "DESCRIPTION:private", "LOCATION:Dr Who's office", *extra, "END:VEVENT"])  # fmt: skip


def blocks(sw):
    with tenant_context(practice_id=sw.practice_id):
        return list(BlockedTime.objects.filter(clinician=sw.clinician).order_by("starts_at"))


def run(sw, data: bytes):
    return ics_import.import_ics(StaffActor.from_membership(sw.clinician), data)


@time_machine.travel(NOW, tick=False)
def test_events_become_busy_blocks_without_their_titles(sw):
    data = ics(
        vevent("one@x", ";TZID=America/New_York:20270309T100000", ";TZID=America/New_York:20270309T113000"),
        vevent("utc@x", ":20270310T140000Z", ":20270310T150000Z"),
        vevent("free@x", ":20270311T140000Z", ":20270311T150000Z", "TRANSP:TRANSPARENT"),
        vevent("gone@x", ":20270312T140000Z", ":20270312T150000Z", "STATUS:CANCELLED"),
    )
    assert run(sw, data) == {"blocks": 2, "replaced": 0}
    rows = blocks(sw)
    assert [(r.starts_at, r.ends_at) for r in rows] == [
        (at("2027-03-09 10:00"), at("2027-03-09 11:30")),
        (datetime.datetime(2027, 3, 10, 14, tzinfo=datetime.UTC), datetime.datetime(2027, 3, 10, 15, tzinfo=datetime.UTC)),
    ]
    assert {(r.label, r.source) for r in rows} == {("Busy", BlockedSource.ICS)}
    assert all(len(r.import_key) == 64 for r in rows)
    # The title is nowhere: not in the rows, not in the audit entry.
    with tenant_context(practice_id=sw.practice_id):
        assert not BlockedTime.objects.filter(label__icontains="canary").exists()
    entry = AuditEntry.objects.get(event="scheduling:blocked-time:imported")
    assert entry.detail == {"blocks": 2, "replaced": 0} and "canary" not in str(entry.detail)
    # The blocked time is no longer bookable.
    with tenant_context(practice_id=sw.practice_id):
        starts = {s.starts_at for s in free_slots(sw.clinician.id, 50, datetime.date(2027, 3, 9), 1, step_minutes=30, now=NOW)}
    assert at("2027-03-09 10:00") not in starts and at("2027-03-09 11:00") not in starts and at("2027-03-09 11:30") in starts


@time_machine.travel(NOW, tick=False)
def test_a_weekly_rule_keeps_its_wall_clock_across_dst_honours_exdate_and_overrides(sw):
    data = ics(
        vevent("weekly@x", ";TZID=America/New_York:20270302T090000", ";TZID=America/New_York:20270302T100000",
               "RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=America/New_York:20270316T090000"),
        "\r\n".join(["BEGIN:VEVENT", "UID:weekly@x", "DTSTAMP:20270101T000000Z", "RECURRENCE-ID;TZID=America/New_York:20270323T090000",
                     "DTSTART;TZID=America/New_York:20270323T150000", "DTEND;TZID=America/New_York:20270323T160000", "END:VEVENT"]),
    )  # fmt: skip
    run(sw, data)
    assert [r.starts_at for r in blocks(sw)] == [at("2027-03-02 09:00"), at("2027-03-09 09:00"), at("2027-03-23 15:00")]


@time_machine.travel(NOW, tick=False)
def test_an_endless_rule_is_bounded_by_the_cap(sw):
    data = ics(vevent("daily@x", ":20270302T140000Z", ":20270302T143000Z", "RRULE:FREQ=HOURLY"))
    assert run(sw, data)["blocks"] == ics_import.MAX_BLOCKS
    assert len(blocks(sw)) == 500


@time_machine.travel(NOW, tick=False)
def test_an_endless_daily_rule_stops_366_days_ahead(sw):
    run(sw, ics(vevent("daily@x", ":20270302T140000Z", ":20270302T143000Z", "RRULE:FREQ=DAILY;INTERVAL=2")))
    rows = blocks(sw)
    assert len(rows) == 183 and rows[-1].starts_at < NOW + datetime.timedelta(days=366)


@time_machine.travel(NOW, tick=False)
def test_reimporting_replaces_rather_than_duplicates(sw):
    run(sw, ics(vevent("one@x", ":20270310T140000Z", ":20270310T150000Z"), vevent("two@x", ":20270311T140000Z", ":20270311T150000Z")))
    keys = {r.import_key for r in blocks(sw)}
    assert run(sw, ics(vevent("one@x", ":20270310T160000Z", ":20270310T170000Z"))) == {"blocks": 1, "replaced": 2}
    [row] = blocks(sw)
    assert row.import_key in keys and row.starts_at.hour == 16
    with tenant_context(practice_id=sw.practice_id):  # a block added by hand stays
        BlockedTime.objects.create(practice_id=sw.practice_id, clinician=sw.clinician, starts_at=NOW, ends_at=NOW + datetime.timedelta(hours=1), label="Lunch")
    run(sw, ics(vevent("one@x", ":20270310T160000Z", ":20270310T170000Z")))
    assert sorted(r.label for r in blocks(sw)) == ["Busy", "Lunch"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is not a calendar", "not a calendar file"),
        (b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n", "not a calendar file"),
        (ics("BEGIN:VEVENT\r\nDTSTART:20270310T140000Z\r\nEND:VEVENT"), "no UID"),
        (ics("BEGIN:VEVENT\r\nUID:a\r\nDTSTART:notadate\r\nEND:VEVENT"), "unreadable DTSTART"),
        (ics(vevent("r@x", ":20270310T140000Z", ":20270310T150000Z", "RRULE:FREQ=SOMETIMES")), "cannot be read"),
        (b"x" * (ics_import.MAX_BYTES + 1), "larger than 1 MB"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_a_bad_file_is_refused_and_keeps_the_earlier_import(sw, data, message):
    run(sw, ics(vevent("keep@x", ":20270310T140000Z", ":20270310T150000Z")))
    with pytest.raises(ics_import.BadCalendarFile, match=message):
        run(sw, data)
    assert [r.import_key for r in blocks(sw)] == [ics_import._key("keep@x", None)]


def test_a_huge_file_is_refused_before_parsing(sw, monkeypatch):
    import icalendar

    monkeypatch.setattr(icalendar.Calendar, "from_ical", lambda *a, **k: pytest.fail("parsed a file over the cap"))
    with pytest.raises(ics_import.BadCalendarFile, match="1 MB"):
        run(sw, b"BEGIN:VCALENDAR\r\n" + b"X" * ics_import.MAX_BYTES)


@time_machine.travel(NOW, tick=False)
def test_the_page_imports_and_refuses_with_a_message(world, sw, client):
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    url = reverse("scheduling:feed-import")
    ok = client.post(url, {"calendar_file": SimpleUploadedFile("cal.ics", ics(vevent("one@x", ":20270310T140000Z", ":20270310T150000Z")), "text/calendar")})
    assert ok.status_code == 200 and b"Imported 1 busy time;" in ok.content and len(blocks(sw)) == 1
    bad = client.post(url, {"calendar_file": SimpleUploadedFile("cal.ics", b"junk", "text/calendar")})
    assert bad.status_code == 400 and b"not a calendar file" in bad.content and len(blocks(sw)) == 1
    huge = client.post(url, {"calendar_file": SimpleUploadedFile("cal.ics", b"x" * (ics_import.MAX_BYTES + 10), "text/calendar")})
    assert huge.status_code == 413 and b"larger than 1 MB" in huge.content
    assert client.post(url, {}).status_code == 400
