"""The practice context, idle sign-out and route-policy enforcement, for every request.

Set in settings.MIDDLEWARE after authentication and OTP, so it can see the user and whether
their second factor is verified. It lives in accounts (not core) because it reads the member's
memberships and records security events: core is below accounts and imports no domain.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from confide.accounts import services as account_services
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, NotFound
from confide.core.middleware import SESSION_LAST_SEEN, SESSION_PRACTICE, session_cap_reached
from confide.accounts.portal import portal_context
from confide.core.routes import PORTAL_AUDIENCES, Audience
from confide.core.tenancy import tenant_context
from confide.core.views import render_error

# The idle clock is written to the session at most this often, not on every request: a session
# written on every request is a database write (on SQLite, the one write lock) per page view,
# which under load costs more than the page. The idle sign-out can come up to this much early
# (never late): at the shortest timeout, 5 minutes, that is 10%.
LAST_SEEN_REFRESH_SECONDS = 30
DEFAULT_IDLE_MINUTES = 15  # a session with no practice to set it (a member of none yet, a portal account with no record)


class PracticeMiddleware:
    """Resolve the signed-in user's current practice and run the request inside its context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.practice = None
        request.membership = None
        request.memberships = []
        request.actor = None
        request.portal = None
        user = request.user
        if not user.is_authenticated:
            with tenant_context(practice_id=None):
                return self._finish(request, self.get_response(request))

        if user.is_patient:
            return self._portal(request, user)

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

        idle_minutes = current.practice.idle_timeout_minutes if current else min(
            (m.practice.idle_timeout_minutes for m in memberships), default=DEFAULT_IDLE_MINUTES
        )
        ended = self._end_stale_session(request, idle_minutes=idle_minutes, practice_id=current.practice_id if current else None)
        if ended is not None:
            return ended

        if current is not None:
            request.membership = current
            request.practice = current.practice
            request.actor = StaffActor.from_membership(current)
        with tenant_context(practice_id=current.practice_id if current else None, user_id=user.pk):
            return self._finish(request, self.get_response(request))

    def _portal(self, request: HttpRequest, user) -> HttpResponse:
        """A portal account: its records instead of memberships, the same idle and absolute caps
        (the practice of the record it acts on sets the idle timeout), the record's practice as
        the request's context."""
        request.portal = portal_context(request, user)
        practice = request.portal.practice
        idle_minutes = practice.idle_timeout_minutes if practice else DEFAULT_IDLE_MINUTES
        ended = self._end_stale_session(request, idle_minutes=idle_minutes, practice_id=request.portal.practice_id)
        if ended is not None:
            return ended
        with tenant_context(practice_id=request.portal.practice_id, user_id=user.pk):
            return self._finish(request, self.get_response(request))

    def _end_stale_session(self, request: HttpRequest, *, idle_minutes: int, practice_id) -> HttpResponse | None:
        """ACC6, for staff and portal sessions alike: idle longer than `idle_minutes`, or older
        than the absolute cap → the session ends (audited, the person told) and the request goes
        on signed out (the response is returned); otherwise the idle clock is refreshed, and None."""
        last_seen = request.session.get(SESSION_LAST_SEEN)
        idle = last_seen is not None and time.time() - last_seen > idle_minutes * 60
        if idle or session_cap_reached(request.session):
            ended = account_services.record_idle_expiry if idle else account_services.record_session_cap_reached
            ended(request, practice_id=practice_id)
            logout(request)
            request.portal = None
            hours = settings.SESSION_COOKIE_AGE // 3600
            messages.info(request, "You were signed out after a period of inactivity." if idle else f"You were signed out {hours} hours after signing in. Sign in again to go on.")
            with tenant_context(practice_id=None):
                return self._finish(request, self.get_response(request))
        now = int(time.time())
        if now - request.session.get(SESSION_LAST_SEEN, 0) >= LAST_SEEN_REFRESH_SECONDS:
            request.session[SESSION_LAST_SEEN] = now
        return None

    def _finish(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # htmx swaps responses into the page: a redirect to sign-in must be a full-page redirect.
        if getattr(request, "htmx", False) and response.status_code == 302:
            location = response["Location"]
            if location.startswith((reverse(settings.LOGIN_URL), reverse("portal:signin"))):
                swapped = HttpResponse(status=401)
                swapped["HX-Redirect"] = location
                return swapped
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        policy = getattr(view_func, "confide_policy", None)
        if policy is None:
            # Deny by default: a view outside the route table is unreachable (and fails a test).
            return render_error(request, 404)
        if policy.audience is Audience.PUBLIC:
            return None
        user = request.user
        if policy.audience in PORTAL_AUDIENCES:
            return self._portal_route(request, policy)
        if user.is_authenticated and user.is_patient:
            # A portal account on a staff page: as if the page did not exist.
            return render_error(request, 404)
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
                return redirect("accounts:select-practice")
            if policy.perm is not None and not request.actor.has(policy.perm):
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

    def _portal_route(self, request: HttpRequest, policy):
        """Portal routes admit portal accounts only: anyone else (a visitor, a staff session) is
        sent to the portal's sign-in, which says nothing about what the page would have shown."""
        user = request.user
        if not (user.is_authenticated and user.is_patient):
            return redirect(f"{reverse('portal:signin')}?next={quote(request.path, safe='/')}")
        if policy.audience is Audience.PORTAL_SIGNING_IN:
            return None
        pending = account_services.portal_mfa_step_pending(user, request.portal)
        if pending == "verify":
            return redirect(f"{reverse('portal:mfa-verify')}?next={quote(request.path, safe='/')}")
        if pending == "enrol":
            return redirect("portal:mfa-enrol")
        if policy.recent_auth and not account_services.auth_is_fresh(request):
            # A GET comes back to itself; a POST to the portal page it was sent from (the form is
            # shown again, nothing done yet), else home.
            back = request.get_full_path() if request.method == "GET" else _safe_referer_path(request, under="/portal/", default=reverse("portal:home"))
            return redirect(f"{reverse('portal:reauth')}?next={quote(back, safe='/')}")
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, NotFound):
            return render_error(request, 404)
        if isinstance(exception, Forbidden):
            return render_error(request, 403)
        return None


def _safe_referer_path(request: HttpRequest, *, under: str = "/", default: str | None = None) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme
    from urllib.parse import urlsplit

    default = default or reverse("core:dashboard")
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        path = urlsplit(referer).path
        return path if path and path.startswith(under) else default
    return default
