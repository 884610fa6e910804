"""The private calendar feed's pages: the public .ics (the token is the key) and the clinician's
own page to create, rotate or revoke it and to import an .ics file as busy time. Every route's
access is its row in core/routes.py."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route
from confide.core.errors import InvalidInput, NotFound
from confide.core.errors import Forbidden
from confide.core.permissions import Perm, Role
from confide.scheduling import feed, ics_import


@route("scheduling:feed-ics")
def feed_ics(request: HttpRequest, feed_token: str) -> HttpResponse:
    try:
        body = feed.render_feed(feed_token)
    except NotFound:
        raise Http404("feed") from None  # unknown and revoked look the same
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="confide.ics"'
    # The URL is a secret and the body the clinician's schedule: no cache may keep either.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _is_clinician(actor) -> bool:
    return actor.role in (Role.CLINICIAN, Role.OWNER)


def _page(request: HttpRequest, *, status: int = 200, new_url: str = "", rotated: bool = False, notice: str = "", error: str = "", import_error: str = "", initials_error: str = "") -> HttpResponse:
    actor = request.actor
    state = feed.feed_state(actor.practice_id, actor.membership_id) if _is_clinician(actor) else None
    context = {
        "is_clinician": _is_clinician(actor),
        "feed": state,
        "active": bool(state and state.token_hash),
        "new_url": new_url,
        "rotated": rotated,
        "notice": notice,
        "error": error,
        "import_error": import_error,
        "max_mb": ics_import.MAX_BYTES // (1024 * 1024),
        "horizon_days": ics_import.HORIZON_DAYS,
        "max_blocks": ics_import.MAX_BLOCKS,
        "can_configure": actor.has(Perm.SCHEDULE_CONFIGURE),
        "initials_on": feed.initials_on(actor.practice_id),
        "initials_declared": feed.initials_declared(actor.practice_id),
        "initials_error": initials_error,
    }
    response = render(request, "scheduling/feed.html", context, status=status)
    if new_url:
        response["Cache-Control"] = "no-store"  # the page with the secret URL is shown once
    return response


@route("scheduling:feed")
def feed_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    actor = request.actor
    action = str(request.POST.get("action", ""))[:20]
    if action in ("initials-on", "initials-off"):
        try:
            feed.set_feed_initials(actor, action == "initials-on", request=request)
        except Forbidden:
            return _page(request, status=403, initials_error="Only those who configure the calendar change this.")
        except InvalidInput as exc:
            return _page(request, status=400, initials_error=str(exc))
        return _page(request, notice="Calendar feeds now show patients' initials." if action == "initials-on" else "Calendar feeds show no patient information.")
    try:
        if action in ("create", "rotate"):
            token, rotated = feed.issue(actor, practice_id=actor.practice_id, membership_id=actor.membership_id, request=request)
            return _page(request, new_url=feed.feed_url(token), rotated=rotated)
        if action == "revoke":
            done = feed.revoke(actor, practice_id=actor.practice_id, membership_id=actor.membership_id, request=request)
            return _page(request, notice="Your calendar feed is off: its address no longer works." if done else "There was no feed to turn off.")
    except InvalidInput as exc:
        return _page(request, status=400, error=str(exc))
    return _page(request, status=400, error="Choose create, new address, or turn off.")


@route("scheduling:feed-import")
def feed_import(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    upload = request.FILES.get("calendar_file")
    if upload is None:
        return _page(request, status=400, import_error="Choose an .ics file to import.")
    if not _is_clinician(actor):  # the page they are on, saying why; nothing is read or written
        return _page(request, import_error="Only clinicians import busy times: nothing was imported.")
    if upload.size > ics_import.MAX_BYTES:  # checked before a byte is parsed
        return _page(request, status=413, import_error="The file is larger than 1 MB. Export a shorter period of your calendar.")
    try:
        done = ics_import.import_ics(actor, upload.read(ics_import.MAX_BYTES + 1), request=request)
    except InvalidInput as exc:
        return _page(request, status=400, import_error=str(exc))
    plural = "" if done["blocks"] == 1 else "s"
    return _page(request, notice=f"Imported {done['blocks']} busy time{plural}; they replace the {done['replaced']} from your last import. Titles are not kept: each shows as \u201cBusy\u201d.")
