"""A Twilio-shaped HTTP server on loopback for the adapter tests (as tests/moto_server.py is for
AWS): the real SDK speaks real HTTP to it; nothing is patched in-process.

    with fake_twilio() as twilio:          # twilio.base_url → CONFIDE_TWILIO_API_BASE
        ...send...
        twilio.requests[-1].form["To"]     # what the SDK sent, field by field
        twilio.fail_next("invalid")        # the next create answers 400 / 21211

It answers POST /2010-04-01/Accounts/{Sid}/Messages.json with Twilio's message JSON (sid SM…,
status queued, …) and GET /2010-04-01/Accounts/{Sid}/Messages.json with a page of them (To and
From filters), after checking HTTP basic auth. Played-back failures: `invalid` (400, 21211),
`unsubscribed` (400, 21610), `busy` (429, 20429), `error` (500), `timeout` (sleeps past the
client's timeout, then answers).
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-token-0123456789abcdef"
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")

FAILURES = {
    "invalid": (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
    "unsubscribed": (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
    "busy": (429, {"code": 20429, "message": "Too Many Requests", "status": 429}),
    "error": (500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
}


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    form: dict  # each field's single value (Twilio's form fields are not repeated here)
    auth: tuple[str, str] | None
    content_type: str


@dataclass
class FakeTwilio:
    base_url: str = ""
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    timeout_sleep: float = 2.0
    requests: list[Seen] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    _failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *kinds: str) -> None:
        with self._lock:
            self._failures.extend(kinds)

    def creates(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST"]

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def message_json(self, form: dict) -> dict:
        sid = "SM" + uuid.uuid4().hex
        now = email.utils.format_datetime(datetime.datetime.now(datetime.UTC), usegmt=True)
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": form.get("Body", ""),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": sid, "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": form.get("To"), "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }  # fmt: skip


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the test output stays quiet (and free of numbers)
            pass

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> tuple[Seen, re.Match | None]:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            auth = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                auth = (user, password)
            seen = Seen(
                method=self.command, path=parts.path, query={k: v[0] for k, v in parse_qs(parts.query).items()},
                form={k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}, auth=auth,
                content_type=self.headers.get("Content-Type", ""),
            )  # fmt: skip
            with fake._lock:
                fake.requests.append(seen)
            return seen, MESSAGES.match(parts.path)

        def _guard(self, seen: Seen, match) -> bool:
            if match is None or match.group(1) != fake.account_sid:
                self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                return False
            if seen.auth != (fake.account_sid, fake.auth_token):
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return False
            failure = fake._next_failure()
            if failure == "timeout":
                time.sleep(fake.timeout_sleep)
                failure = None
            if failure:
                status, payload = FAILURES[failure]
                self._answer(status, payload | {"more_info": f"https://www.twilio.com/docs/errors/{payload['code']}"})
                return False
            return True

        def do_POST(self) -> None:
            seen, match = self._record()
            if not self._guard(seen, match):
                return
            message = fake.message_json(seen.form)
            with fake._lock:
                fake.messages.append(message)
            self._answer(201, message)

        def do_GET(self) -> None:
            seen, match = self._record()
            if not self._guard(seen, match):
                return
            with fake._lock:
                rows = [m for m in reversed(fake.messages)
                        if ("To" not in seen.query or m["to"] == seen.query["To"]) and ("From" not in seen.query or m["from"] == seen.query["From"])]  # fmt: skip
            size = int(seen.query.get("PageSize", 50))
            uri = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
            self._answer(200, {"messages": rows[:size], "end": max(0, min(size, len(rows)) - 1), "first_page_uri": uri,
                               "next_page_uri": None, "page": 0, "page_size": size, "previous_page_uri": None, "start": 0, "uri": uri})  # fmt: skip

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
