"""`@route(name)`: attach a view to its row in the route-policy table."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_not_required
from django.views.decorators.http import require_http_methods

from confide.core.routes import PORTAL_AUDIENCES, ROUTE_POLICY, Audience


def route(name: str) -> Callable:
    policy = ROUTE_POLICY[name]  # KeyError at import time: a view cannot exist without a row

    def decorate(view: Callable) -> Callable:
        # HEAD is GET without a body; monitors and `curl -I` use it.
        methods = policy.methods | ({"HEAD"} if "GET" in policy.methods else set())
        wrapped = require_http_methods(sorted(methods))(view)
        if policy.audience is Audience.PUBLIC or policy.audience in PORTAL_AUDIENCES:
            # Portal routes: the route-policy middleware sends a visitor to the portal's own
            # sign-in, not to the staff sign-in LoginRequiredMiddleware would choose.
            wrapped = login_not_required(wrapped)
        wrapped.confide_route = name
        wrapped.confide_policy = policy
        return wrapped

    return decorate
