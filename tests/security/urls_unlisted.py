"""The real URLconf plus two views that never got a row in ROUTE_POLICY (test_route_policy.py)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path

CALLS: list[str] = []


def unlisted(request):
    CALLS.append("unlisted")
    return HttpResponse("the unlisted view ran")


@login_not_required
def unlisted_public(request):
    CALLS.append("unlisted_public")
    return HttpResponse("the unlisted public view ran")


urlpatterns = [
    path("", include("confide.urls")),
    path("unlisted/", unlisted, name="unlisted"),
    path("unlisted-public/", unlisted_public, name="unlisted-public"),
]

handler404 = "confide.core.views.page_not_found"
handler500 = "confide.core.views.server_error"
