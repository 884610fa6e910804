"""A Google-shaped HTTP server on 127.0.0.1, in a thread, for the Google Calendar tests.

It speaks what Confide uses of Google: the OAuth authorization redirect (auto-approving, as a
user clicking "Allow"), the token endpoint (authorization_code with a PKCE S256 check, and
refresh_token), the revocation endpoint, Calendar v3 `events.list` and `freeBusy`. Every request
is recorded (method, path, query, form, headers) so tests check it field by field; it can be told
to answer 401 / invalid_grant, 500, or slowly.

    with FakeGoogle() as fake:
        fake.events = [fake.event("2027-03-09T10:00:00Z", "2027-03-09T11:00:00Z", "Dentist")]
        fake.mode = "500"          # events.list answers 500 ("401", "slow", "invalid_grant" too)
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

READONLY = "https://www.googleapis.com/auth/calendar.events.readonly"
CLIENT_ID = "fake-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret"


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    form: dict
    headers: dict


@dataclass
class FakeGoogle:
    events: list = field(default_factory=list)
    mode: str = ""  # "", "500", "401", "slow", "invalid_grant" (refresh refused)
    slow_seconds: float = 5.0
    granted_scope: str | None = None  # what the token endpoint says was granted; None: what was asked
    revoke_status: int = 200
    requests: list = field(default_factory=list)
    codes: dict = field(default_factory=dict)  # code → {challenge, redirect_uri, client_id, scope}
    access_tokens: set = field(default_factory=set)
    refresh_tokens: set = field(default_factory=set)
    revoked: list = field(default_factory=list)

    # --- lifecycle ---
    def __enter__(self) -> FakeGoogle:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- helpers for tests ---
    @staticmethod
    def event(starts: str, ends: str, summary: str = "", **extra) -> dict:
        return {"start": {"dateTime": starts}, "end": {"dateTime": ends}, "summary": summary, "status": "confirmed", **extra}

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    # --- the server ---
    def _reply(self, handler, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler, method: str) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        form = {}
        if "x-www-form-urlencoded" in (handler.headers.get("Content-Type") or ""):
            form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        elif raw:
            try:
                form = json.loads(raw)
            except ValueError:
                form = {}
        self.requests.append(Seen(method, url.path, query, form, {k.lower(): v for k, v in handler.headers.items()}))
        path = url.path
        if path == "/o/oauth2/v2/auth" and method == "GET":
            return self._authorize(handler, query)
        if path == "/token" and method == "POST":
            return self._token(handler, form)
        if path == "/revoke" and method == "POST":
            token = form.get("token", "")
            self.revoked.append(token)
            self.access_tokens.discard(token)
            self.refresh_tokens.discard(token)
            return self._reply(handler, self.revoke_status, {} if self.revoke_status == 200 else {"error": "invalid_token"})
        if path == "/calendar/v3/calendars/primary/events" and method == "GET":
            return self._calendar(handler, lambda: {"kind": "calendar#events", "items": self.events})
        if path == "/calendar/v3/freeBusy" and method == "POST":
            busy = [{"start": e["start"].get("dateTime"), "end": e["end"].get("dateTime")} for e in self.events if e.get("transparency") != "transparent"]
            return self._calendar(handler, lambda: {"kind": "calendar#freeBusy", "calendars": {"primary": {"busy": busy}}})
        return self._reply(handler, 404, {"error": "not_found"})

    def _authorize(self, handler, query: dict) -> None:
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query.get("code_challenge"), "redirect_uri": query.get("redirect_uri"),
                            "client_id": query.get("client_id"), "scope": query.get("scope")}  # fmt: skip
        target = f"{query.get('redirect_uri')}?{urlencode({'state': query.get('state', ''), 'code': code, 'scope': query.get('scope', '')})}"
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _new_tokens(self, scope: str, *, refresh: bool = True) -> dict:
        access = "ya29.fake-" + secrets.token_urlsafe(12)
        self.access_tokens.add(access)
        body = {"access_token": access, "expires_in": 3599, "scope": scope, "token_type": "Bearer"}
        if refresh:
            body["refresh_token"] = "1//fake-refresh-" + secrets.token_urlsafe(12)
            self.refresh_tokens.add(body["refresh_token"])
        return body

    def _token(self, handler, form: dict) -> None:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._reply(handler, 401, {"error": "invalid_client"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.pop(form.get("code", ""), None)
            if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
                return self._reply(handler, 400, {"error": "invalid_grant"})
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or challenge != issued["challenge"]:
                return self._reply(handler, 400, {"error": "invalid_grant", "error_description": "code_verifier"})
            return self._reply(handler, 200, self._new_tokens(self.granted_scope if self.granted_scope is not None else issued["scope"]))
        if grant == "refresh_token":
            if self.mode == "invalid_grant" or form.get("refresh_token") not in self.refresh_tokens:
                return self._reply(handler, 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            return self._reply(handler, 200, self._new_tokens(READONLY, refresh=False))
        return self._reply(handler, 400, {"error": "unsupported_grant_type"})

    def _calendar(self, handler, body) -> None:
        if self.mode == "slow":
            time.sleep(self.slow_seconds)
        if self.mode == "500":
            return self._reply(handler, 500, {"error": {"code": 500, "message": "Backend Error"}})
        auth = handler.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ")
        if self.mode in ("401", "invalid_grant") or not auth.startswith("Bearer ") or token not in self.access_tokens:
            return self._reply(handler, 401, {"error": {"code": 401, "message": "Invalid Credentials"}}, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})
        return self._reply(handler, 200, body())
