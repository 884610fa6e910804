"""Passkeys in the portal (ACC2 for patients): the account's list (add, rename, remove), and the
JSON endpoints the browser's WebAuthn calls talk to (confide/static/confide/passkeys.js).

Parse, call accounts/passkeys.py, answer. The JSON endpoints take a JSON object (the CSRF token
in the X-CSRFToken header, as for any POST) and answer JSON: the options, `{"redirect": url}`,
or `{"error": message}` with status 400 and nothing written."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.accounts import passkeys
from confide.accounts.services import auth_is_fresh
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.http import local_path

BAD_REQUEST = "The request could not be read. Reload the page and try again."
MAX_BODY = 64 * 1024  # an answer is a few kilobytes; a credential id at most 1023 bytes


def _json_object(request: HttpRequest, *, empty_ok: bool = False) -> dict:
    """The body as a JSON object, or InvalidInput (not JSON, not an object, too big)."""
    body = request.body
    if empty_ok and not body.strip():
        return {}
    if request.content_type != "application/json" or len(body) > MAX_BODY:
        raise InvalidInput(BAD_REQUEST)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(BAD_REQUEST) from None
    if not isinstance(data, dict):
        raise InvalidInput(BAD_REQUEST)
    return data


def _error(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


def _options(request: HttpRequest, make) -> HttpResponse:
    try:
        _json_object(request, empty_ok=True)
        options = make(request)
    except InvalidInput as exc:
        return _error(str(exc))
    return HttpResponse(options, content_type="application/json")


# --- The account's passkeys -------------------------------------------------------------------------
@route("portal:passkeys")
def passkey_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


def _render_list(request: HttpRequest, *, errors: dict | None = None, status: int = 200) -> HttpResponse:
    context = {
        "portal_section": "account",
        "passkeys": passkeys.list_passkeys(request.user),
        "errors": errors or {},
        "name_max": passkeys.NAME_MAX,
        "fresh": auth_is_fresh(request),  # adding one needs the password confirmed recently
    }
    return render(request, "portal/passkeys.html", context, status=status)


@route("portal:passkey-options")
def passkey_options(request: HttpRequest) -> HttpResponse:
    return _options(request, passkeys.registration_options)


@route("portal:passkey-add")
def passkey_add(request: HttpRequest) -> HttpResponse:
    try:
        data = _json_object(request)
        passkey = passkeys.check_add_passkey(request, data.get("credential"), data.get("name"))
    except InvalidInput as exc:
        return _error(str(exc))
    messages.success(request, f"Passkey “{passkey.name}” added. You can now sign in with it.")
    return JsonResponse({"redirect": reverse("portal:passkeys")})


@route("portal:passkey-rename")
def passkey_rename(request: HttpRequest) -> HttpResponse:
    passkey_id = request.POST.get("passkey", "")
    try:
        passkey = passkeys.do_rename_passkey(request, passkey_id, request.POST.get("name", ""))
    except InvalidInput as exc:
        return _render_list(request, errors={passkey_id: str(exc)}, status=400)
    messages.success(request, f"Passkey renamed to “{passkey.name}”.")
    return redirect("portal:passkeys")


@route("portal:passkey-remove")
def passkey_remove(request: HttpRequest) -> HttpResponse:
    """A page asking "remove this passkey?" (GET ?passkey=id), and the removal (POST). The
    route asks for a fresh confirmation (password) first."""
    passkey_id = request.POST.get("passkey") if request.method == "POST" else request.GET.get("passkey")
    passkey = passkeys.access_own_passkey(request.user, passkey_id or "")  # NotFound → 404
    if request.method == "POST":
        passkeys.do_remove_passkey(request, passkey.pk)
        messages.success(request, f"Passkey “{passkey.name}” removed. It can no longer sign in to your account.")
        return redirect("portal:passkeys")
    return render(request, "portal/passkey_remove.html", {"portal_section": "account", "passkey": passkey})


# --- Signing in with a passkey ---------------------------------------------------------------------------
@route("portal:passkey-signin-options")
def passkey_signin_options(request: HttpRequest) -> HttpResponse:
    return _options(request, passkeys.signin_options)


@route("portal:passkey-signin")
def passkey_signin(request: HttpRequest) -> HttpResponse:
    try:
        data = _json_object(request)
        passkeys.check_passkey_signin(request, data.get("credential"))
    except InvalidInput as exc:
        return _error(str(exc))
    next_value = data.get("next")
    target = local_path(request, next_value if isinstance(next_value, str) else None, under="/portal/")
    return JsonResponse({"redirect": target or reverse("portal:home")})
