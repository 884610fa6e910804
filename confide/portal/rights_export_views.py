"""Part "export": the patient's copy of their information, in the portal's privacy centre (RTS1,
RTS2). The copy is made in the background (confide/rights/export.py) after a `see` or `copy`
request; the privacy page shows its progress (htmx polls the status part; without JavaScript a
Refresh link does the same) and, once ready, a download link that works for 7 days, only for the
record's own account or its representative (another record's export: 404; past its time: 410)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route
from confide.core.http import streamed_file
from confide.rights import export as rights_export


def _context(export) -> dict:
    return {"portal_section": "privacy", "rights_export": export, "expired": rights_export.is_expired(export)}


@route("portal:rights-export-status")
def rights_export_status(request: HttpRequest, export_id) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html", status=404)
    export = rights_export.get_export(actor=actor, export_id=export_id)
    if getattr(request, "htmx", False):
        return render(request, "rights/_portal_export.html", _context(export))
    return render(request, "rights/portal_export.html", _context(export))


@route("portal:rights-export-download")
def rights_export_download(request: HttpRequest, export_id) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html", status=404)
    try:
        download = rights_export.open_download(actor=actor, export_id=export_id, request=request)
    except rights_export.ExportExpired:
        return render(request, "rights/portal_export_expired.html", {"portal_section": "privacy"}, status=410)
    return streamed_file(download.stream, content_type=download.content_type, size=download.size, filename=download.filename)
