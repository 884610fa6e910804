"""The real URLconf plus a public view that raises with a canary in the exception message."""

from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from confide.core.routes import Audience, RoutePolicy
from tests.conftest import CANARIES


@login_not_required
def boom(request):
    raise ValueError(f"boom {CANARIES['name']}")


# What @route would stamp; the view has no row in the real table on purpose.
boom.confide_route = "test:boom"
boom.confide_policy = RoutePolicy(Audience.PUBLIC, None, False, frozenset({"GET"}))

urlpatterns = [
    path("", include("confide.urls")),
    path("boom/", boom, name="boom"),
]

handler404 = "confide.core.views.page_not_found"
handler500 = "confide.core.views.server_error"
