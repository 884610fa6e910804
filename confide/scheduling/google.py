"""Google Calendar, read-only (issue 16 item 4; SCH2, SCH3).

A clinician links their own Google Calendar (OAuth 2.0 authorization code with PKCE, exactly the
read-only events scope); Confide then shows their Google events as busy blocks and keeps them out
of the bookable slots. What is kept where:

- the tokens: sealed under the platform key in `GoogleConnection.sealed_tokens` (bound to the
  table, the column and the membership), wiped when the link ends;
- the events: nowhere durable (SCH2). A fetch's blocks live in this process's memory for at most
  `CACHE_SECONDS`, keyed by membership and window; every read first checks in the database that
  the link is still connected, so a revocation made by any worker hides them at once (SCH3);
- the audit log: ids and codes only (connected, revoked and why, a refused scope).

Interface for the calendar and booking parts:

- `busy_blocks(clinician_id, start, end, viewer_id=None)` → [BusyBlock]; [] when not connected or
  when Google is unavailable (for display);
- `busy_intervals_or_raise(...)` → the same, but raises `GoogleUnavailable` when the clinician is
  connected and Google's busy times are unknown (5xx, slow, unreachable): booking must then not
  offer that clinician's slots;
- `busy_view(...)` → `BusyView(blocks, notice)`: the blocks plus the sentence a page shows.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from confide.accounts import secretbox
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput

log = logging.getLogger(__name__)

READONLY_SCOPE = "https://www.googleapis.com/auth/calendar.events.readonly"
CACHE_SECONDS = 60
STATE_MINUTES = 10
SESSION_STATE_KEY = "google_oauth_state"
MAX_PAGES = 4  # 4 × 250 events in one window is plenty for a week; more is not fetched
EVENT_FIELDS = "items(start,end,summary,transparency,status),nextPageToken"
BUSY = "Busy"

NOTICE_UNAVAILABLE = "Google Calendar is not answering; its busy times are not shown."
NOTICE_ENDED = "Google Calendar access ended; connect again."
NOTICE_NOT_CONFIGURED = "The server's operator has not set up Google Calendar, so it cannot be connected here."

GOOGLE_AUTH = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
GOOGLE_REVOKE = "https://oauth2.googleapis.com/revoke"
GOOGLE_API = "https://www.googleapis.com/calendar/v3/"


class GoogleUnavailable(Exception):
    """The clinician is connected but Google's busy times are unknown right now (5xx, slow,
    unreachable). Booking refuses to offer that clinician's slots while this is raised."""


class _AccessEnded(Exception):
    """Google refused the tokens (invalid_grant, or 401 after a refresh): revoked at Google."""


@dataclass(frozen=True)
class BusyBlock:
    """One busy interval from the clinician's Google Calendar, for display only: its title is
    shown to the clinician themself and never stored (SCH2)."""

    starts_at: datetime.datetime
    ends_at: datetime.datetime
    title: str = ""  # the event's title for its owner; "Busy" for anyone else


@dataclass(frozen=True)
class BusyView:
    blocks: list[BusyBlock] = field(default_factory=list)
    notice: str = ""  # NOTICE_UNAVAILABLE / NOTICE_ENDED, or ""


# --- configuration -------------------------------------------------------------------------


def configured() -> bool:
    return bool(settings.CONFIDE_GOOGLE_CLIENT_ID and settings.CONFIDE_GOOGLE_CLIENT_SECRET)


def endpoints() -> dict[str, str]:
    base = settings.CONFIDE_GOOGLE_API_BASE
    if base:  # tests: one Google-shaped server on loopback
        return {"auth": f"{base}/o/oauth2/v2/auth", "token": f"{base}/token", "revoke": f"{base}/revoke", "api": f"{base}/calendar/v3/"}
    return {"auth": GOOGLE_AUTH, "token": GOOGLE_TOKEN, "revoke": GOOGLE_REVOKE, "api": GOOGLE_API}


def _timeout() -> int:
    return settings.CONFIDE_GOOGLE_TIMEOUT_SECONDS


def redirect_uri(request) -> str:
    path = reverse("scheduling:google-callback")
    base = getattr(settings, "CONFIDE_BASE_URL", "")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


# --- sealing -------------------------------------------------------------------------------


def _aad(table: str, column: str, row: object) -> dict:
    return {"table": table, "column": column, "row_id": str(row)}


def _seal_tokens(membership_id, tokens: dict) -> str:
    from confide.scheduling.models import GoogleConnection

    return secretbox.seal(json.dumps(tokens).encode(), **_aad(GoogleConnection._meta.db_table, "sealed_tokens", membership_id))


def _open_tokens(connection) -> dict:
    if not connection.sealed_tokens:
        return {}
    raw = secretbox.open_sealed(connection.sealed_tokens, **_aad(connection._meta.db_table, "sealed_tokens", connection.membership_id))
    return json.loads(raw)


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


# --- the in-process cache of fetched blocks (never the database, never Django's cache) ------

_cache: dict[tuple, tuple[float, tuple]] = {}
_cache_lock = threading.Lock()


def _cache_get(key: tuple):
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            del _cache[key]
            return None
        return hit[1]


def _cache_put(key: tuple, value: tuple) -> None:
    now = time.monotonic()
    with _cache_lock:
        for stale in [k for k, (expires, _) in _cache.items() if expires <= now]:
            del _cache[stale]
        _cache[key] = (now + CACHE_SECONDS, value)


def forget(membership_id) -> None:
    """Drop every cached block of this clinician (on connect, revoke, revoked at Google)."""
    wanted = str(membership_id)
    with _cache_lock:
        for key in [k for k in _cache if k[0] == wanted]:
            del _cache[key]


def forget_all() -> None:
    with _cache_lock:
        _cache.clear()


# --- connecting ----------------------------------------------------------------------------


def connection_for(membership_id):
    from confide.scheduling.models import GoogleConnection

    return GoogleConnection.objects.filter(membership_id=membership_id).first()


def begin_connect(actor, request) -> str:
    """A new single-use state (hashed in the database, kept in the session) and PKCE verifier
    (sealed); the URL of Google's consent screen asking for the read-only events scope only."""
    from confide.scheduling.models import GoogleOAuthState

    if not configured():
        raise InvalidInput(NOTICE_NOT_CONFIGURED)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43-128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    row_id = uuid.uuid4()
    GoogleOAuthState.objects.create(
        id=row_id, practice_id=actor.practice_id, membership_id=actor.membership_id, state_hash=_state_hash(state),
        sealed_verifier=secretbox.seal(verifier.encode(), **_aad(GoogleOAuthState._meta.db_table, "sealed_verifier", row_id)),
        expires_at=timezone.now() + datetime.timedelta(minutes=STATE_MINUTES),
    )  # fmt: skip
    request.session[SESSION_STATE_KEY] = state
    query = {
        "response_type": "code",
        "client_id": settings.CONFIDE_GOOGLE_CLIENT_ID,
        "redirect_uri": redirect_uri(request),
        "scope": READONLY_SCOPE,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",  # a refresh token: busy times are fetched when a page is viewed
        "prompt": "consent",  # …which Google returns only with a fresh consent
        "include_granted_scopes": "false",  # never widen to scopes granted to this client before
    }
    return f"{endpoints()['auth']}?{urlencode(query)}"


EXPIRED = "This Google sign-in has expired or was already used. Start again with “Connect Google Calendar”."


def _consume_state(actor, request, state: str) -> str:
    """The PKCE verifier of this state, if the state is this session's and this membership's,
    unexpired and unused; marked used by one conditional update (a replay gets nothing)."""
    from confide.scheduling.models import GoogleOAuthState

    expected = request.session.pop(SESSION_STATE_KEY, None)
    if not state or not isinstance(expected, str) or not secrets.compare_digest(expected.encode(), state.encode()):
        raise InvalidInput(EXPIRED)
    now = timezone.now()
    rows = GoogleOAuthState.objects.filter(state_hash=_state_hash(state), membership_id=actor.membership_id, used_at__isnull=True, expires_at__gt=now)
    row = rows.first()
    if row is None or rows.filter(id=row.id).update(used_at=now) != 1:
        raise InvalidInput(EXPIRED)
    return secretbox.open_sealed(row.sealed_verifier, **_aad(row._meta.db_table, "sealed_verifier", row.id)).decode()


def _post_form(url: str, data: dict):
    import requests

    return requests.post(url, data=data, timeout=_timeout(), headers={"Accept": "application/json"})


def revoke_at_google(token: str) -> bool:
    """Google's revocation endpoint (POST token=…); True when Google confirmed."""
    if not token:
        return False
    try:
        return _post_form(endpoints()["revoke"], {"token": token}).status_code == 200
    except Exception as exc:  # noqa: BLE001 — any failure: the link is ended locally anyway
        log.warning("google revocation request failed: %s", type(exc).__name__)
        return False


def finish_connect(actor, request, *, state: str, code: str, error: str = ""):
    """Google's redirect back: the state checked and consumed, the code exchanged with the
    verifier, the granted scopes checked (exactly read-only, else refused and given back), the
    tokens sealed. Returns the connection; raises InvalidInput with what to do otherwise."""
    from confide.scheduling.models import GoogleConnection, GoogleStatus

    if not configured():
        raise InvalidInput(NOTICE_NOT_CONFIGURED)
    if error:
        request.session.pop(SESSION_STATE_KEY, None)
        raise InvalidInput("Google Calendar was not connected: access was not granted at Google.")
    verifier = _consume_state(actor, request, state)
    if not code or len(code) > 2048:
        raise InvalidInput("Google sent no authorization code back. Start again with “Connect Google Calendar”.")
    try:
        response = _post_form(endpoints()["token"], {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(request),
            "client_id": settings.CONFIDE_GOOGLE_CLIENT_ID, "client_secret": settings.CONFIDE_GOOGLE_CLIENT_SECRET,
            "code_verifier": verifier,
        })  # fmt: skip
    except Exception as exc:  # noqa: BLE001
        log.warning("google token exchange failed: %s", type(exc).__name__)
        raise InvalidInput("Google is not answering; try connecting again in a minute.") from None
    try:
        body = response.json() if response.status_code == 200 else {}
    except ValueError:
        body = {}
    access, refresh = str(body.get("access_token") or ""), str(body.get("refresh_token") or "")
    if not access:
        log.warning("google token exchange refused: status %s", response.status_code)
        raise InvalidInput("Google did not accept this sign-in. Start again with “Connect Google Calendar”.")
    granted = sorted(set(str(body.get("scope") or "").split()))
    if granted != [READONLY_SCOPE]:
        confirmed = revoke_at_google(refresh or access)
        record(AuditEvent.GOOGLE_SCOPE_REFUSED, practice_id=actor.practice_id, actor=actor, outcome="refused", request=request,
               detail={"membership_id": str(actor.membership_id), "granted": granted[:10], "google_confirmed": confirmed})  # fmt: skip
        raise InvalidInput(
            "Google granted different permissions than read-only access to your events, so Confide refused the "
            "connection and gave the access back to Google. Connect again and allow only “View events on all your calendars”."
        )
    expires_in = body.get("expires_in")
    expiry = timezone.now() + datetime.timedelta(seconds=int(expires_in) if str(expires_in).isdigit() else 3600)
    tokens = {"access_token": access, "refresh_token": refresh, "expiry": expiry.isoformat()}
    now = timezone.now()
    with transaction.atomic():
        connection, _ = GoogleConnection.objects.update_or_create(
            membership_id=actor.membership_id,
            defaults={"practice_id": actor.practice_id, "status": GoogleStatus.CONNECTED,
                      "sealed_tokens": _seal_tokens(actor.membership_id, tokens), "scopes": " ".join(granted),
                      "connected_at": now, "revoked_at": None, "revoked_reason": ""},
        )  # fmt: skip
        GoogleConnection.objects.filter(id=connection.id).update(version=connection.version + 1)
        record(AuditEvent.GOOGLE_CONNECTED, practice_id=actor.practice_id, actor=actor, request=request, resource_ids=[connection.id],
               detail={"membership_id": str(actor.membership_id), "scopes": granted})  # fmt: skip
    forget(actor.membership_id)
    return connection


# --- ending the link (SCH3) ----------------------------------------------------------------


def _end_locally(connection, reason: str, *, actor=None, request=None) -> dict:
    """Wipe the tokens and mark the link revoked, by a conditional update; returns the tokens
    that were sealed (so the caller can revoke them at Google) or {} if it had ended already."""
    from confide.scheduling.models import GoogleConnection, GoogleStatus

    try:
        tokens = _open_tokens(connection)
    except secretbox.SecretBoxError:
        tokens = {}  # unreadable tokens are wiped all the same
    with transaction.atomic():
        ended = GoogleConnection.objects.filter(id=connection.id, status=GoogleStatus.CONNECTED).update(
            status=GoogleStatus.REVOKED, sealed_tokens="", revoked_at=timezone.now(), revoked_reason=reason,
            version=connection.version + 1, updated_at=timezone.now(),
        )  # fmt: skip
        if ended == 1:
            record(AuditEvent.GOOGLE_REVOKED, practice_id=connection.practice_id, actor=actor, request=request,
                   resource_ids=[connection.id], detail={"membership_id": str(connection.membership_id), "reason": reason})  # fmt: skip
    forget(connection.membership_id)
    if ended != 1:
        return {}
    return tokens or {"ended": True}


def disconnect(actor, request=None) -> tuple[bool, bool]:
    """The clinician's "Disconnect": stop locally first and commit (tokens wiped, blocks gone at
    once, audited), then revoke the grant at Google; a failure there does not undo the local
    stop. Returns (was connected, Google confirmed the revocation)."""
    from confide.scheduling.models import GoogleConnection, GoogleRevokedReason, GoogleStatus

    with transaction.atomic():
        connection = GoogleConnection.objects.select_for_update().filter(membership_id=actor.membership_id, status=GoogleStatus.CONNECTED).first()
        tokens = _end_locally(connection, GoogleRevokedReason.BY_CLINICIAN, actor=actor, request=request) if connection else {}
    forget(actor.membership_id)
    if not tokens:
        return False, False
    confirmed = revoke_at_google(tokens.get("refresh_token") or tokens.get("access_token") or "")
    if not confirmed:
        log.warning("google revocation not confirmed for connection %s", connection.id)
    return True, confirmed


def on_membership_deactivated(sender, *, membership, actor=None, request=None, **kwargs) -> None:
    """A staff member's access ended: their link ends in the same transaction; Google is asked
    to revoke the grant once that transaction has committed."""
    from confide.scheduling.models import GoogleConnection, GoogleRevokedReason, GoogleStatus

    connection = GoogleConnection.objects.select_for_update().filter(membership_id=membership.id, status=GoogleStatus.CONNECTED).first()
    if connection is None:
        return
    tokens = _end_locally(connection, GoogleRevokedReason.MEMBERSHIP_ENDED, actor=actor, request=request)
    token = tokens.get("refresh_token") or tokens.get("access_token") or ""
    if token:
        transaction.on_commit(lambda: revoke_at_google(token))


# --- busy blocks ---------------------------------------------------------------------------


def _parse_when(value: dict, zone) -> datetime.datetime | None:
    if not isinstance(value, dict):
        return None
    try:
        if value.get("dateTime"):
            moment = datetime.datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
            return moment.astimezone(datetime.UTC) if moment.tzinfo else None
        if value.get("date"):  # an all-day event: the day in the practice's zone
            day = datetime.date.fromisoformat(str(value["date"]))
            return datetime.datetime.combine(day, datetime.time(0), tzinfo=zone).astimezone(datetime.UTC)
    except (TypeError, ValueError):
        return None
    return None


def _practice_zone():
    import zoneinfo

    from confide.scheduling.models import DEFAULT_TIME_ZONE, SchedulingSettings

    name = SchedulingSettings.objects.values_list("time_zone", flat=True).first() or DEFAULT_TIME_ZONE
    return zoneinfo.ZoneInfo(name)


def _fetch(connection, start: datetime.datetime, end: datetime.datetime) -> tuple:
    """events.list on the primary calendar through Google's client (bundled discovery document,
    endpoint overridable, short timeout); a refreshed access token is sealed back. Returns
    ((starts, ends, title), …) of the events that make the clinician busy."""
    import google.auth.exceptions
    import google_auth_httplib2
    import httplib2
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build
    from googleapiclient.errors import HttpError

    from confide.scheduling.models import GoogleConnection

    tokens = _open_tokens(connection)
    expiry = None
    if tokens.get("expiry"):
        expiry = datetime.datetime.fromisoformat(tokens["expiry"]).astimezone(datetime.UTC).replace(tzinfo=None)  # google-auth: naive UTC
    credentials = Credentials(
        token=tokens.get("access_token"), refresh_token=tokens.get("refresh_token") or None, token_uri=endpoints()["token"],
        client_id=settings.CONFIDE_GOOGLE_CLIENT_ID, client_secret=settings.CONFIDE_GOOGLE_CLIENT_SECRET,
        scopes=[READONLY_SCOPE], expiry=expiry,
    )  # fmt: skip
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=_timeout()))
    before = credentials.token
    items: list = []
    try:
        service = build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                        client_options={"api_endpoint": endpoints()["api"]})  # fmt: skip
        page_token = None
        for _ in range(MAX_PAGES):
            response = service.events().list(
                calendarId="primary", singleEvents=True, orderBy="startTime", timeMin=start.isoformat(), timeMax=end.isoformat(),
                maxResults=250, fields=EVENT_FIELDS, pageToken=page_token,
            ).execute(num_retries=0)  # fmt: skip
            items.extend(response.get("items") or [])
            page_token = response.get("nextPageToken")
            if not page_token:
                break
    except google.auth.exceptions.RefreshError as exc:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        if data.get("error") == "invalid_grant" or "invalid_grant" in str(exc.args[0] if exc.args else ""):
            raise _AccessEnded from None
        raise GoogleUnavailable from None
    except HttpError as exc:
        if exc.resp.status == 401:
            raise _AccessEnded from None
        log.warning("google events.list answered %s", exc.resp.status)
        raise GoogleUnavailable from None
    except Exception as exc:  # noqa: BLE001 — timeouts, refused connections, malformed answers
        log.warning("google events.list failed: %s", type(exc).__name__)
        raise GoogleUnavailable from None
    if credentials.token and credentials.token != before:  # refreshed: keep the new access token
        tokens["access_token"] = credentials.token
        if credentials.refresh_token:
            tokens["refresh_token"] = credentials.refresh_token
        if credentials.expiry:
            tokens["expiry"] = credentials.expiry.replace(tzinfo=datetime.UTC).isoformat()
        GoogleConnection.objects.filter(id=connection.id, version=connection.version, status=connection.status).update(
            sealed_tokens=_seal_tokens(connection.membership_id, tokens), version=connection.version + 1, updated_at=timezone.now()
        )  # fmt: skip
    zone = _practice_zone()
    blocks = []
    for item in items:
        if not isinstance(item, dict) or item.get("status") == "cancelled" or item.get("transparency") == "transparent":
            continue
        starts, ends = _parse_when(item.get("start"), zone), _parse_when(item.get("end"), zone)
        if starts is None or ends is None or ends <= starts:
            continue
        blocks.append((starts, ends, str(item.get("summary") or "")[:200]))
    return tuple(blocks)


def _connected(clinician_id):
    from confide.scheduling.models import GoogleConnection, GoogleStatus

    return GoogleConnection.objects.select_related("membership").filter(membership_id=clinician_id, status=GoogleStatus.CONNECTED).first()


def busy_intervals_or_raise(clinician_id, start: datetime.datetime, end: datetime.datetime, *, viewer_id=None) -> list[BusyBlock]:
    """The clinician's Google busy blocks overlapping [start, end): [] when not connected (or
    when Google has just said the link was revoked: it is then marked so); raises
    `GoogleUnavailable` when connected but Google does not answer in time."""
    from confide.scheduling.models import GoogleRevokedReason

    if not configured():
        return []
    connection = _connected(clinician_id)  # every time: a revocation anywhere hides the blocks at once
    if connection is None:
        forget(clinician_id)
        return []
    key = (str(clinician_id), start.isoformat(), end.isoformat())
    raw = _cache_get(key)
    if raw is None:
        try:
            raw = _fetch(connection, start, end)
        except _AccessEnded:
            _end_locally(connection, GoogleRevokedReason.AT_GOOGLE)
            return []
        _cache_put(key, raw)
    owner = viewer_id is not None and str(viewer_id) == str(connection.membership.user_id)
    return [BusyBlock(s, e, (title or BUSY) if owner else BUSY) for s, e, title in raw if s < end and e > start]


def busy_blocks(clinician_id, start: datetime.datetime, end: datetime.datetime, *, viewer_id=None) -> list[BusyBlock]:
    """The clinician's Google busy blocks overlapping [start, end); [] when not connected or
    when Google is not answering (display: use `busy_view` to show why)."""
    return busy_view(clinician_id, start, end, viewer_id=viewer_id).blocks


def busy_view(clinician_id, start: datetime.datetime, end: datetime.datetime, *, viewer_id=None) -> BusyView:
    """The blocks and the sentence a page shows with them (Google not answering, access ended)."""
    from confide.scheduling.models import GoogleRevokedReason, GoogleStatus

    try:
        blocks = busy_intervals_or_raise(clinician_id, start, end, viewer_id=viewer_id)
    except GoogleUnavailable:
        return BusyView([], NOTICE_UNAVAILABLE)
    if not blocks:
        connection = connection_for(clinician_id)
        if connection is not None and connection.status == GoogleStatus.REVOKED and connection.revoked_reason == GoogleRevokedReason.AT_GOOGLE:
            return BusyView([], NOTICE_ENDED)
    return BusyView(blocks)
