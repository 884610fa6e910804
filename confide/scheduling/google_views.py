"""The clinician's Google Calendar page (issue 16 item 4): status, connect (OAuth with PKCE),
Google's redirect back, disconnect, and this week's busy blocks. Each acts on the signed-in
member's own link only; access is each route's row in core/routes.py."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.scheduling import google


def _this_week(zone) -> tuple[datetime.datetime, datetime.datetime]:
    today = datetime.datetime.now(zone).date()
    monday = today - datetime.timedelta(days=today.weekday())
    start = datetime.datetime.combine(monday, datetime.time(0), tzinfo=zone)
    end = datetime.datetime.combine(monday + datetime.timedelta(days=7), datetime.time(0), tzinfo=zone)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def _page(request: HttpRequest, *, status: int = 200, error: str = "") -> HttpResponse:
    actor = request.actor
    zone = google._practice_zone()
    start, end = _this_week(zone)
    view = google.busy_view(actor.membership_id, start, end, viewer_id=actor.user_id)
    connection = google.connection_for(actor.membership_id)  # as it is now: the fetch may have ended it
    connected = connection is not None and connection.status == "connected"
    blocks = [{"starts": b.starts_at.astimezone(zone), "ends": b.ends_at.astimezone(zone), "title": b.title} for b in view.blocks]
    context = {
        "configured": google.configured(),
        "not_configured_text": google.NOTICE_NOT_CONFIGURED,
        "connected": connected,
        "connection": connection,
        "notice": view.notice,
        "blocks": blocks,
        "week_start": start.astimezone(zone).date(),
        "week_end": (end.astimezone(zone) - datetime.timedelta(days=1)).date(),
        "zone": str(zone),
        "error": error,
        "scope": google.READONLY_SCOPE,
    }
    response = render(request, "scheduling/google.html", context, status=status)
    response["Cache-Control"] = "no-store, private"  # event titles are shown, never kept (SCH2)
    # "Connect" POSTs here and is redirected to Google's consent screen: the browser checks that
    # redirect against form-action, so this page (only) allows Google's authorization origin.
    auth = urlsplit(google.endpoints()["auth"])
    response._csp_update = {"form-action": [f"{auth.scheme}://{auth.netloc}"]}
    return response


@route("scheduling:google")
def google_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@route("scheduling:google-connect")
def google_connect(request: HttpRequest) -> HttpResponse:
    try:
        url = google.begin_connect(request.actor, request)
    except InvalidInput as exc:  # not configured: back to the page, which says so
        messages.error(request, str(exc))
        return redirect("scheduling:google")
    return redirect(url)


@route("scheduling:google-callback")
def google_callback(request: HttpRequest) -> HttpResponse:
    def arg(name: str) -> str:
        return str(request.GET.get(name, "") or "")[:4096]

    if not (arg("state") or arg("code") or arg("error")):  # opened by hand: nothing to finish
        messages.info(request, "There is no Google sign-in to finish here. Use “Connect Google Calendar” to start one.")
        return redirect("scheduling:google")
    try:
        google.finish_connect(request.actor, request, state=arg("state"), code=arg("code"), error=arg("error")[:100])
    except InvalidInput as exc:
        return _page(request, status=400, error=str(exc))
    messages.success(request, "Google Calendar connected (read-only). Your Google events now show as busy times.")
    return redirect("scheduling:google")


@route("scheduling:google-disconnect")
def google_disconnect(request: HttpRequest) -> HttpResponse:
    was_connected, confirmed = google.disconnect(request.actor, request=request)
    if not was_connected:
        messages.info(request, "Google Calendar was not connected.")
    elif confirmed:
        messages.success(request, "Google Calendar disconnected: Confide no longer reads it, and Google has revoked its access.")
    else:
        messages.warning(request, "Google Calendar disconnected here: Confide no longer reads it and has deleted its access. "
                                  "Google did not confirm the revocation; you can also remove Confide at myaccount.google.com → Security → Third-party access.")  # fmt: skip
    return redirect("scheduling:google")
