"""The privacy officer's queue of rights requests. Thin: call the service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route
from confide.rights import services


@route("rights:queue")
def queue(request: HttpRequest) -> HttpResponse:
    requests = services.list_open_requests(actor=request.actor, request=request)
    return render(request, "rights/queue.html", {"requests": requests})


# --- part "export": the copy panel's actions (templates rights/panels/see.html, copy.html) -------------
def _panel(request: HttpRequest, req, export, *, error: str = "", status: int = 200) -> HttpResponse:
    from confide.rights import export as rights_export

    context = {"req": req, "rights_export": export, "expired": export is not None and rights_export.is_expired(export), "panel_error": error}
    return render(request, "rights/panels/_copy_panel.html", context, status=status)


@route("rights:export-start")
def export_start(request: HttpRequest, request_id) -> HttpResponse:
    """Start the copy for a verified see/copy request (the request page's panel)."""
    from confide.core.errors import InvalidInput
    from confide.rights import export as rights_export

    try:
        export = rights_export.start_export_for_staff(actor=request.actor, request_id=request_id, request=request)
    except InvalidInput as exc:
        req = _request_row(request, request_id)
        return _panel(request, req, rights_export.latest_for_request(req), error=str(exc), status=400)
    return _panel(request, export.request, export)


@route("rights:export-authorize")
def export_authorize(request: HttpRequest, request_id) -> HttpResponse:
    """Record the patient's specific authorization to include psychotherapy notes (or take it back)."""
    from confide.core.errors import InvalidInput
    from confide.rights import export as rights_export

    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        req = rights_export.set_psychotherapy_authorization(
            actor=request.actor, request_id=request_id, expected_version=version, authorized=request.POST.get("authorized") == "1",
            request=request,
        )  # fmt: skip
    except services.ChangedMeanwhile as exc:
        req = _request_row(request, request_id)
        return _panel(request, req, rights_export.latest_for_request(req), error=str(exc), status=409)
    except InvalidInput as exc:
        req = _request_row(request, request_id)
        return _panel(request, req, rights_export.latest_for_request(req), error=str(exc), status=400)
    return _panel(request, req, rights_export.latest_for_request(req))


@route("rights:export-status")
def export_status(request: HttpRequest, export_id) -> HttpResponse:
    """The panel's progress part, polled by htmx while the copy is being made."""
    from confide.rights import export as rights_export

    export = rights_export.get_export_for_staff(actor=request.actor, export_id=export_id)
    if not getattr(request, "htmx", False):  # without JavaScript (the Refresh of a page): a whole page
        context = {"req": export.request, "rights_export": export}
        return render(request, "rights/copy_status.html", context)
    return _panel(request, export.request, export)


def _request_row(request: HttpRequest, request_id):
    from confide.core.errors import NotFound
    from confide.core.tenancy import tenant_context
    from confide.rights.models import RightsRequest

    with tenant_context(practice_id=request.actor.practice_id):
        row = RightsRequest.objects.filter(pk=request_id).first()
    if row is None:
        raise NotFound("rights request")
    return row
