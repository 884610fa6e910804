"""The request id, and the names of the session keys the practice context keeps.

RequestIdMiddleware runs first (settings.MIDDLEWARE), so every log line carries the id. The
practice context, idle sign-out and route-policy enforcement are `PracticeMiddleware`, in
confide/accounts/middleware.py: they need the member's accounts, which core may not import.
"""

from __future__ import annotations

import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from confide.logging import request_id_var

_INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
SESSION_PRACTICE = "confide_practice_id"
SESSION_LAST_SEEN = "confide_last_seen"
SESSION_AUTH_FRESH_AT = "confide_auth_fresh_at"
# When the session signed in: it ends SESSION_COOKIE_AGE later however busy it is (the cookie's
# own expiry is renewed by every request that saves the session, so it caps nothing).
SESSION_STARTED_AT = "confide_session_started_at"


def session_cap_reached(session) -> bool:
    """Whether this signed-in session is older than the absolute cap (settings.SESSION_COOKIE_AGE).
    A session from before this check existed starts counting now."""
    started = session.setdefault(SESSION_STARTED_AT, int(time.time()))
    return time.time() - started > settings.SESSION_COOKIE_AGE


class RequestIdMiddleware:
    """A request id for logs and the X-Request-ID response header (accepted from a proxy if sane)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _INCOMING_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response
