"""The directory's pages: the practitioner's own profile, the owner's website settings, the
referral form (staff), and the practice's public website at /p/<practice>/ (STYLE: parse, one
service call, render). Every route's access is its row in core/routes.py."""

from __future__ import annotations

from csp.constants import NONCE
from csp.decorators import csp_update
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control

from confide.consent import services as consent
from confide.consent.topics import Topic
from confide.core.decorators import route
from confide.core.errors import InvalidInput, NotFound
from confide.core.public import public_practice_page
from confide.directory import services, site
from confide.directory.models import SensitiveKind


# --- staff: the practitioner's own profile -------------------------------------------------------
def _profile_page(request, *, status=200, error="", values=None) -> HttpResponse:
    profile = services.own_profile(request.actor)
    sensitive = {row.kind: row.value for row in profile.sensitive.all()}
    published_consent = consent.state(consent.Subject.staff(request.actor.practice_id, request.actor.user_id), Topic.PROFILE_PUBLICATION)
    context = {
        "profile": profile,
        "values": values or {name: getattr(profile, name) for name in services.PROFILE_FIELDS},
        "sensitive": [(kind.value, kind.label, sensitive.get(kind.value, "")) for kind in SensitiveKind],
        "error": error,
        "publish_text": services.PUBLISH_TEXT,
        "consent_state": published_consent,
    }
    return render(request, "directory/profile.html", context, status=status)


@route("directory:profile")
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _profile_page(request)
    try:
        services.do_update_profile(actor=request.actor, data=request.POST, photo=request.FILES.get("photo"), request=request)
    except InvalidInput as exc:
        values = {name: str(request.POST.get(name, ""))[:4000] for name in services.PROFILE_FIELDS}
        return _profile_page(request, status=400, error=str(exc), values=values)
    messages.success(request, "Your profile is saved.")
    return redirect("directory:profile")


@route("directory:profile-sensitive")
def profile_sensitive(request: HttpRequest) -> HttpResponse:
    kind = str(request.POST.get("kind", ""))[:40]
    try:
        if request.POST.get("action") == "remove":
            services.do_remove_sensitive(actor=request.actor, kind=kind, request=request)
            messages.success(request, "Removed. It is no longer stored or shown anywhere.")
        else:
            services.do_set_sensitive(actor=request.actor, kind=kind, value=request.POST.get("value", ""), request=request)
            messages.success(request, "Saved. It is shown only on your public profile, while it is published.")
    except InvalidInput as exc:
        return _profile_page(request, status=400, error=str(exc))
    return redirect("directory:profile")


@route("directory:profile-publish")
def profile_publish(request: HttpRequest) -> HttpResponse:
    try:
        services.do_publish(actor=request.actor, request=request)
    except InvalidInput as exc:
        return _profile_page(request, status=400, error=str(exc))
    messages.success(request, "Your profile is published on the practice's website.")
    return redirect("directory:profile")


@route("directory:profile-unpublish")
def profile_unpublish(request: HttpRequest) -> HttpResponse:
    services.do_unpublish(actor=request.actor, request=request)
    messages.success(request, "Your profile is off the website.")
    return redirect("directory:profile")


# --- staff: the owner's website settings ---------------------------------------------------------
def _website_page(request, *, status=200, error="", values=None) -> HttpResponse:
    current = services.website_of(request.actor.practice_id)
    context = {
        "site": current,
        "values": values or {"tagline": current.tagline, "about": current.about, "primary_colour": current.primary_colour,
                             "published": current.published},  # fmt: skip
        "profiles": services.list_profiles(request.actor),
        "error": error,
    }
    return render(request, "directory/website.html", context, status=status)


@route("directory:website")
def website(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _website_page(request)
    try:
        services.do_update_website(actor=request.actor, data=request.POST, logo=request.FILES.get("logo"), request=request)
    except InvalidInput as exc:
        values = {name: str(request.POST.get(name, ""))[:4000] for name in services.WEBSITE_FIELDS}
        values["published"] = request.POST.get("published") == "1"
        return _website_page(request, status=400, error=str(exc), values=values)
    messages.success(request, "The website is saved.")
    return redirect("directory:website")


@route("directory:website-unpublish-profile")
def website_unpublish_profile(request: HttpRequest, profile_id) -> HttpResponse:
    try:
        services.do_unpublish(actor=request.actor, profile_id=profile_id, request=request)
    except NotFound:
        raise Http404("profile") from None
    messages.success(request, "The profile is off the website.")
    return redirect("directory:website")


# --- staff: refer a colleague --------------------------------------------------------------------
@route("directory:refer")
def refer(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "directory/refer.html", {"values": {}})
    values = {"name": str(request.POST.get("name", ""))[:200], "email": str(request.POST.get("email", ""))[:300]}
    try:
        services.do_refer(actor=request.actor, name=values["name"], email=values["email"], request=request)
    except InvalidInput as exc:
        return render(request, "directory/refer.html", {"values": values, "error": str(exc)}, status=400)
    messages.success(request, "Your colleague has been sent one e-mail saying you referred them.")
    return redirect("directory:refer")


# --- public: the website -------------------------------------------------------------------------
def _public(request, practice, template: str, **context) -> HttpResponse:
    current = site.published_site(practice)
    return render(request, template, {"practice": practice, "site": current, **context})


@route("directory:home")
@public_practice_page
@csp_update({"script-src": [NONCE]})  # the JSON-LD block only; no script runs from it
def site_home(request: HttpRequest, practice) -> HttpResponse:
    current = site.published_site(practice)
    return render(request, "directory/site_home.html", {"practice": practice, "site": current, "team": site.team(practice),
                                                         "jsonld": site.structured_data(request, practice, current)})  # fmt: skip


@route("directory:theme")
@public_practice_page
@cache_control(public=True, max_age=300)
def site_theme(request: HttpRequest, practice) -> HttpResponse:
    current = site.published_site(practice)
    colour = current.primary_colour  # checked on save: #rrggbb with AA contrast against white
    css = f":root{{--site-primary:{colour}}}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")


def _image(data, content_type) -> HttpResponse:
    if not data:
        raise Http404("image")
    response = HttpResponse(bytes(data), content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@route("directory:logo")
@public_practice_page
def site_logo(request: HttpRequest, practice) -> HttpResponse:
    current = site.published_site(practice)
    return _image(current.logo, current.logo_type)


@route("directory:team")
@public_practice_page
def site_team(request: HttpRequest, practice) -> HttpResponse:
    return _public(request, practice, "directory/site_team.html", team=site.team(practice))


@route("directory:practitioner")
@public_practice_page
def site_practitioner(request: HttpRequest, practice, profile_id) -> HttpResponse:
    site.published_site(practice)
    return _public(request, practice, "directory/site_practitioner.html", p=site.practitioner(practice, profile_id))


@route("directory:photo")
@public_practice_page
def site_photo(request: HttpRequest, practice, profile_id) -> HttpResponse:
    site.published_site(practice)
    person = site.practitioner(practice, profile_id)
    return _image(person.photo, person.photo_type)


@route("directory:services")
@public_practice_page
def site_services(request: HttpRequest, practice) -> HttpResponse:
    return _public(request, practice, "directory/site_services.html", services=site.services(practice), team=site.team(practice))


@route("directory:locations")
@public_practice_page
def site_locations(request: HttpRequest, practice) -> HttpResponse:
    return _public(request, practice, "directory/site_locations.html", where=site.locations(practice))


@route("directory:referral-decline")
@public_practice_page
def referral_decline(request: HttpRequest, practice) -> HttpResponse:
    token = str(request.GET.get("t", "") if request.method == "GET" else request.POST.get("t", ""))[:500]
    if not token:
        return render(request, "directory/referral_decline.html", {"practice": practice, "bad": True}, status=200 if request.method == "GET" else 400)
    try:
        services.referral_for_token(practice, token)
        if request.method == "POST":
            services.do_decline_referral(practice=practice, token=token, request=request)
            return render(request, "directory/referral_declined.html", {"practice": practice})
    except NotFound:
        return render(request, "directory/referral_decline.html", {"practice": practice, "bad": True}, status=400)
    return render(request, "directory/referral_decline.html", {"practice": practice, "token": token})


