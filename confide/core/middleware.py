"""Request id, the practice context, idle sign-out and route-policy enforcement.

Order matters and is set in settings.MIDDLEWARE: RequestIdMiddleware first (so every log line
carries the id); PracticeMiddleware after authentication and OTP, so it can see the user and
whether their second factor is verified.
"""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from confide.core.errors import Forbidden, NotFound
from confide.core.routes import Audience
from confide.core.tenancy import tenant_context
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


class PracticeMiddleware:
    """Resolve the signed-in user's current practice and run the request inside its context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from confide.accounts import services as account_services

        request.practice = None
        request.membership = None
        request.memberships = []
        request.actor = None
        user = request.user
        if not user.is_authenticated:
            with tenant_context(practice_id=None):
                return self._finish(request, self.get_response(request))

        memberships = account_services.list_active_memberships(user)
        request.memberships = memberships
        wanted = request.session.get(SESSION_PRACTICE)
        current = next((m for m in memberships if str(m.practice_id) == wanted), None)
        if wanted and current is None:
            # Removed from the practice (or deactivated) mid-session: say so, change nothing.
            account_services.record_access_revoked(request, practice_id=wanted)
            request.session.pop(SESSION_PRACTICE, None)
            messages.warning(request, "You no longer have access to that practice.")
        if current is None and memberships:
            # Nothing chosen yet (or the choice was revoked): start in the first practice; the
            # switcher in the header moves between them.
            current = memberships[0]
            request.session[SESSION_PRACTICE] = str(current.practice_id)

        if self._idle_expired(request, current):
            account_services.record_idle_expiry(request, practice_id=current.practice_id if current else None)
            logout(request)
            messages.info(request, "You were signed out after a period of inactivity.")
            with tenant_context(practice_id=None):
                return self._finish(request, self.get_response(request))
        request.session[SESSION_LAST_SEEN] = int(time.time())

        if current is not None:
            from confide.core.actors import StaffActor

            request.membership = current
            request.practice = current.practice
            request.actor = StaffActor.from_membership(current)
        with tenant_context(practice_id=current.practice_id if current else None, user_id=user.pk):
            return self._finish(request, self.get_response(request))

    def _idle_expired(self, request: HttpRequest, current) -> bool:
        last_seen = request.session.get(SESSION_LAST_SEEN)
        if last_seen is None:
            return False
        minutes = current.practice.idle_timeout_minutes if current else min(
            (m.practice.idle_timeout_minutes for m in request.memberships), default=15
        )
        return time.time() - last_seen > minutes * 60

    def _finish(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # htmx swaps responses into the page: a redirect to sign-in must be a full-page redirect.
        if getattr(request, "htmx", False) and response.status_code == 302:
            location = response["Location"]
            if location.startswith(reverse(settings.LOGIN_URL)):
                swapped = HttpResponse(status=401)
                swapped["HX-Redirect"] = location
                return swapped
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        from confide.accounts import services as account_services

        policy = getattr(view_func, "confide_policy", None)
        if policy is None:
            # Deny by default: a view outside the route table is unreachable (and fails a test).
            from confide.core.views import render_error

            return render_error(request, 404)
        if policy.audience is Audience.PUBLIC:
            return None
        user = request.user
        if not user.is_authenticated:  # LoginRequiredMiddleware has already redirected; belt and braces
            return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")
        if policy.audience is Audience.SIGNING_IN:
            return None
        pending = account_services.mfa_step_pending(user, request.memberships)
        if pending == "verify":
            return redirect(f"{reverse('accounts:mfa-verify')}?next={request.path}")
        if pending == "enrol":
            return redirect("accounts:mfa-enrol")
        if policy.audience is Audience.STAFF:
            if request.actor is None:
                return redirect("core:select-practice")
            if policy.perm is not None and not request.actor.has(policy.perm):
                from confide.core.views import render_error

                return render_error(request, 403)
        if policy.recent_auth and not account_services.auth_is_fresh(request):
            if request.method == "POST" and not request.FILES:
                # Confirmed on the spot, so what was typed (a policy override, a settings form) is
                # not lost to a redirect: None once confirmed, and the view runs with the POST.
                from confide.accounts.views import confirm_in_place

                return confirm_in_place(request)
            messages.info(request, "Confirm it is you: enter your password and a code from your authenticator.")
            # A GET comes back with its query (an export keeps its filters); quoted, so it stays one parameter.
            back = request.get_full_path() if request.method == "GET" else _safe_referer_path(request)
            return redirect(f"{reverse('accounts:reauth')}?next={quote(back, safe='/')}")
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        from confide.core.views import render_error

        if isinstance(exception, NotFound):
            return render_error(request, 404)
        if isinstance(exception, Forbidden):
            return render_error(request, 403)
        return None


def _safe_referer_path(request: HttpRequest) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme
    from urllib.parse import urlsplit

    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return urlsplit(referer).path or reverse("core:dashboard")
    return reverse("core:dashboard")
