"""`PrivacySignalsMiddleware`: GPC and DNT honoured on every request to a public practice page.

Placed after PracticeMiddleware (settings.MIDDLEWARE): by `process_view` the route's row is
known, so only PUBLIC routes carrying `<practice_slug>`, for a method the row allows, are
handled; the practice is resolved once (and handed to `public_practice_page`), the signals are
honoured in the practice's tenant context (confide/consent/signals.py), and the result is
`request.privacy_signals`. On the way out the response sets the visitor cookie when this
request allocated one, varies on the signal headers and the cookie, and is marked private.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from confide.consent import signals
from confide.core.models import Practice
from confide.core.routes import Audience
from confide.core.tenancy import tenant_context


class PrivacySignalsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.privacy_signals = None
        response = self.get_response(request)
        found = request.privacy_signals
        if found is not None:
            # The page depends on the visitor's choices and signals: never a shared cache's copy.
            patch_vary_headers(response, ("Sec-GPC", "DNT", "Cookie"))
            patch_cache_control(response, private=True)
            if found.new_visitor_id:
                signals.set_visitor_cookie(response, found.practice, found.new_visitor_id)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        policy = getattr(view_func, "confide_policy", None)
        slug = view_kwargs.get("practice_slug")
        if policy is None or policy.audience is not Audience.PUBLIC or not slug:
            return None
        practice = Practice.objects.filter(slug=slug).first()
        if practice is None:
            return None  # the view answers 404
        request.public_practice = practice
        allowed = policy.methods | ({"HEAD"} if "GET" in policy.methods else set())
        with tenant_context(practice_id=practice.id):
            request.privacy_signals = signals.honour(request, practice, record_allowed=request.method in allowed)
        return None
