"""The idle clock is written at most every LAST_SEEN_REFRESH_SECONDS, so a page view does not
write the session (a database write per request: on SQLite, the one write lock) — issue 13."""

import time

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from confide.accounts.middleware import LAST_SEEN_REFRESH_SECONDS
from confide.core.middleware import SESSION_LAST_SEEN
from confide.core.permissions import Role


def _session_writes(client, path="/") -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return sum(1 for q in captured.captured_queries if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT"))


def test_a_page_view_soon_after_the_last_one_does_not_write_the_session(signed_in):
    client = signed_in(Role.CLINICIAN)
    client.get("/")
    seen = client.session[SESSION_LAST_SEEN]
    with time_machine.travel(time.time() + LAST_SEEN_REFRESH_SECONDS - 5):
        assert _session_writes(client) == 0
    assert client.session[SESSION_LAST_SEEN] == seen


def test_the_idle_clock_moves_on_once_the_refresh_interval_has_passed(signed_in):
    client = signed_in(Role.CLINICIAN)
    client.get("/")
    seen = client.session[SESSION_LAST_SEEN]
    with time_machine.travel(time.time() + LAST_SEEN_REFRESH_SECONDS + 1):
        assert _session_writes(client) == 1
    assert client.session[SESSION_LAST_SEEN] >= seen + LAST_SEEN_REFRESH_SECONDS


def test_steady_use_in_small_steps_never_lets_the_session_go_idle(signed_in):
    # Requests every 20 s for 20 minutes (longer than the 15-minute timeout): some of them write
    # the clock, and the session stays signed in throughout.
    client = signed_in(Role.CLINICIAN)
    start = time.time()
    for step in range(60):
        with time_machine.travel(start + 20 * step):
            assert client.get("/").status_code == 200
