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

# A proxy's request id is written into hashed, append-only audit entries, so only an id that
# cannot carry anything else is taken: a UUID (with or without dashes) or a ULID (Crockford
# base32, first character 0-7), any case, at most 36 characters. Anything else gets our own.
_INCOMING_REQUEST_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[0-7][0-9a-hjkmnp-tv-z]{25}", re.IGNORECASE
)
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
        request.request_id = incoming if len(incoming) <= 36 and _INCOMING_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response
