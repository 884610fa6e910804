"""A standard client reads the feed (issue 16 item 5): Radicale, a real CalDAV server, runs on
loopback with a temporary storage folder; the caldav client library (1.x) creates a calendar,
puts the feed's events into it (Radicale validates each one) and reads them back by a date-range
search. With initials off, nothing of the patient is in what the server stores."""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys
import time
from pathlib import Path

import caldav
import icalendar
import pytest
import time_machine
from django.urls import reverse

from confide.scheduling import feed
from tests.conftest import CANARIES
from tests.scheduling.world import at, book_at

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def radicale(tmp_path: Path):
    port = _free_port()
    config = tmp_path / "radicale.conf"
    config.write_text(
        "[server]\nhosts = 127.0.0.1:%d\n[auth]\ntype = none\n[storage]\nfilesystem_folder = %s\n"
        "[rights]\ntype = owner_only\n[logging]\nlevel = warning\n" % (port, tmp_path / "collections")
    )
    process = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail("radicale did not start: " + process.stderr.read().decode()[-500:])
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/", tmp_path / "collections"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


@time_machine.travel(NOW, tick=False)
def test_a_caldav_server_accepts_the_feed_and_a_client_reads_it_back(sw, client, radicale):
    url, storage = radicale
    first = book_at(sw, "2027-03-09 10:00")
    second = book_at(sw, "2027-03-11 15:30", minutes=30)
    token, _ = feed.issue(None, practice_id=sw.practice_id, membership_id=sw.clinician.id)
    body = client.get(reverse("scheduling:feed-ics", args=[token])).content
    parsed = icalendar.Calendar.from_ical(body)
    events = list(parsed.walk("VEVENT"))
    assert len(events) == 2

    with time_machine.travel(datetime.datetime.now(datetime.UTC), tick=True):  # the server's own clock
        dav = caldav.DAVClient(url=url, username="clinician", password="x")
        calendar = dav.principal().make_calendar(name="Confide feed")
        for event in events:  # one VCALENDAR per event, as a client stores a subscription's items
            one = icalendar.Calendar()
            for key in ("PRODID", "VERSION"):
                one.add(key.lower(), parsed[key])
            one.add_component(event)
            calendar.save_event(one.to_ical().decode())
        found = calendar.search(start=datetime.datetime(2027, 3, 9, tzinfo=datetime.UTC),
                                end=datetime.datetime(2027, 3, 10, tzinfo=datetime.UTC), event=True, expand=False)  # fmt: skip
        [only] = found
        read = icalendar.Calendar.from_ical(only.data).walk("VEVENT")[0]
        assert str(read["UID"]) == f"{first.pk}@confide" and str(read["SUMMARY"]) == "Follow-up"
        assert read.decoded("DTSTART") == at("2027-03-09 10:00") and read.decoded("DTEND") == at("2027-03-09 10:50")
        everything = calendar.search(start=datetime.datetime(2027, 3, 1, tzinfo=datetime.UTC),
                                     end=datetime.datetime(2027, 4, 1, tzinfo=datetime.UTC), event=True)  # fmt: skip
        starts = sorted(icalendar.Calendar.from_ical(e.data).walk("VEVENT")[0].decoded("DTSTART") for e in everything)
        assert starts == [at("2027-03-09 10:00"), at("2027-03-11 15:30")]
        assert str(second.pk) in "".join(e.data for e in everything)
    stored = "".join(p.read_text(errors="replace") for p in storage.rglob("*.ics"))
    assert "Follow-up" in stored
    for canary in (CANARIES["name"], "Canarywood", CANARIES["email"], CANARIES["phone"], "Marisol", "Quintero"):
        assert canary not in stored
