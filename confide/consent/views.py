"""A visitor's privacy choices on a practice's public pages, and the usage beacon.

    /p/<slug>/privacy/choices/          the cookie banner's form target and the preferences page
    /p/<slug>/privacy/do-not-sell/      "Do Not Sell or Share My Personal Information" (RTS5)
    /p/<slug>/privacy/limit-sensitive/  "Limit the Use of My Sensitive Personal Information", and profiling
    /p/<slug>/a/collect                 the usage beacon (POST, same-origin, CSRF-checked)

Each page works without JavaScript and without an account: one form, one button per choice,
nothing asked but the choice. A POST parses the form (a topic the page offers, an action, the
digest of the text it showed), calls one service, and redirects back (303) — to a path of the
same practice's pages given as `next`, or to the page itself. Bad input is a 400 page that
says what was wrong, with nothing written.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from confide.consent import analytics, services, texts
from confide.consent.actors import VisitorActor
from confide.consent.signals import Question
from confide.consent.topics import TOPICS, Action, Channel, Method, Topic
from confide.core.decorators import route
from confide.core.errors import Forbidden, InvalidInput
from confide.core.http import local_path
from confide.core.public import public_practice_page

# Which prompts each page's forms may answer (a form cannot post a choice another page offers).
PAGE_PROMPTS = {
    "choices": {"analytics", "analytics-gpc", "analytics-dnt", "sale-share-gpc"},
    "do-not-sell": {"sale-share"},
    "limit-sensitive": {"limit-sensitive", "profiling"},
}
SAVED = {
    Action.GRANT: "Saved: {label} is on.",
    Action.WITHDRAW: "Saved: {label} is off.",
    Action.DECLINE: "Saved: {label} stays off.",
}


def _page(request: HttpRequest, practice, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {"practice": practice, "signals": request.privacy_signals, **context}, status=status)


def _back(request: HttpRequest, practice, fallback: str) -> str:
    return local_path(request, request.POST.get("next"), under=f"/p/{practice.slug}/") or fallback


def _choose(request: HttpRequest, practice, page: str) -> tuple[str, Action] | str:
    """Parse and record one choice: (prompt key, action) when saved, else the error to show."""
    key, action_value, digest = (request.POST.get(name, "") for name in ("prompt", "action", "text_sha256"))
    if key not in PAGE_PROMPTS[page]:
        return "That choice is not offered on this page."
    try:
        action = Action(action_value)
        if digest != texts.digest(key, action):
            return "This page changed since you loaded it. Please look at it again and choose."
    except (ValueError, KeyError):
        return "That is not one of the buttons on this page."
    signals = request.privacy_signals
    visitor_id = signals.ensure_visitor()
    if visitor_id is None:
        return "Too many new visitors from your network this hour: your choice could not be saved. Please try again later."
    services.do_choose(
        action=action,
        actor=VisitorActor(practice.id, visitor_id),
        subject=services.Subject.visitor(practice.id, visitor_id),
        topic=texts.PROMPT_TOPICS[key],
        channel=Channel.COOKIE if key.startswith("analytics") else Channel.WEB,
        method=Method.FORM_BUTTON,
        shown_text=texts.shown(key, action),
        request=request,
    )
    return key, action


def _choice_page(request: HttpRequest, practice, page: str, template: str, context: dict) -> HttpResponse:
    if request.method == "POST":
        try:
            outcome = _choose(request, practice, page)
        except InvalidInput as exc:
            outcome = str(exc)
        if isinstance(outcome, str):
            request.privacy_signals.forget_new_visitor()  # nothing recorded: no cookie either
            status = 429 if request.privacy_signals.capped else 400
            return _page(request, practice, template, {**context, "error": outcome}, status=status)
        key, action = outcome
        messages.success(request, SAVED[action].format(label=TOPICS[texts.PROMPT_TOPICS[key]].label))
        return _see_other(_back(request, practice, request.path))
    return _page(request, practice, template, context)


def _see_other(location: str) -> HttpResponse:
    response = HttpResponse(status=303)  # after a POST, the browser GETs the page it came from
    response["Location"] = location
    return response


def _toggle(key: str, signals) -> Question:
    """One button: grant when the topic is off, withdraw when it is on (withdrawing takes the
    same single click as granting did)."""
    granted = signals.state(texts.PROMPT_TOPICS[key]).granted
    return Question.of(key, (Action.WITHDRAW,) if granted else (Action.GRANT,))


@route("consent:choices")
@public_practice_page
@never_cache
def choices(request: HttpRequest, practice) -> HttpResponse:
    signals = request.privacy_signals
    analytics_state = signals.state(Topic.ANALYTICS_COOKIES)
    unanswered = not analytics_state.answered
    question = Question.of("analytics", (Action.GRANT, Action.DECLINE)) if unanswered else _toggle("analytics", signals)
    context = {"analytics_question": question, "analytics_state": analytics_state}
    return _choice_page(request, practice, "choices", "consent/choices.html", context)


@route("consent:do-not-sell")
@public_practice_page
@never_cache
def do_not_sell(request: HttpRequest, practice) -> HttpResponse:
    signals = request.privacy_signals
    context = {"question": _toggle("sale-share", signals), "state": signals.state(Topic.SALE_SHARE_OPT_OUT), "never_sold": texts.NEVER_SOLD}
    return _choice_page(request, practice, "do-not-sell", "consent/do_not_sell.html", context)


@route("consent:limit-sensitive")
@public_practice_page
@never_cache
def limit_sensitive(request: HttpRequest, practice) -> HttpResponse:
    signals = request.privacy_signals
    context = {
        "limit_question": _toggle("limit-sensitive", signals),
        "limit_state": signals.state(Topic.LIMIT_SENSITIVE),
        "profiling_question": _toggle("profiling", signals),
        "profiling_state": signals.state(Topic.PROFILING_OPT_OUT),
        "never_sold": texts.NEVER_SOLD,
    }
    return _choice_page(request, practice, "limit-sensitive", "consent/limit_sensitive.html", context)


@route("consent:collect")
@public_practice_page
def collect(request: HttpRequest, practice) -> HttpResponse:
    try:
        route_name = analytics.parse_beacon(content_type=request.content_type, query_string=request.META.get("QUERY_STRING", ""), data=request.POST)
        analytics.do_count_view(practice_id=practice.id, route=route_name, signals=request.privacy_signals)
    except InvalidInput as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    except Forbidden as exc:
        return HttpResponse(f"{exc}\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(status=204)
