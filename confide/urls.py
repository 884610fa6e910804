"""Every route is named and has a row in confide.core.routes.ROUTE_POLICY."""

from django.urls import include, path

urlpatterns = [
    path("", include("confide.core.urls")),
    path("", include("confide.accounts.urls")),
    path("", include("confide.records.urls")),
    path("", include("confide.audit.urls")),
    path("", include("confide.access.urls")),
    path("", include("confide.policy.urls")),
    path("", include("confide.records.intake_urls")),
    path("", include("confide.consent.urls")),
    path("", include("confide.messaging.urls")),
    path("", include("confide.scheduling.urls")),
    path("", include("confide.directory.urls")),
    path("", include("confide.portal.urls")),
    path("", include("confide.rights.urls")),
    path("", include("confide.disclosures.urls")),  # disc part
    path("", include("confide.retention.urls")),  # part retention
    path("", include("confide.site.urls")),
]

handler400 = "confide.core.views.bad_request"
handler403 = "confide.core.views.permission_denied"
handler404 = "confide.core.views.page_not_found"
handler500 = "confide.core.views.server_error"
