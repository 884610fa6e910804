"""The privacy officer's audit viewer and its CSV export. Thin: parse the filters with a form,
call confide/audit/reports.py, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from confide.audit import reports
from confide.audit.forms import AuditLogFilterForm
from confide.core.decorators import route


def _filter_form(request: HttpRequest) -> AuditLogFilterForm:
    return AuditLogFilterForm(request.GET, members=reports.practice_members(request.actor))


def _render_log(request: HttpRequest, form: AuditLogFilterForm) -> HttpResponse:
    context = {"form": form, "page": None, "rows": [], "author_only": None, "patient_name": None}
    if form.is_valid():
        page = form.cleaned_data.get("page") or 1
        filters = form.to_filter()
        context["page"], context["rows"], context["author_only"] = reports.audit_log_page(request.actor, filters, page, request=request)
        context["patient_name"] = next((v.patient_name for v in context["rows"] if v.patient_name), None) if filters.patient_id else None
    return render(request, "audit/log.html", context, status=400 if form.errors else 200)


@route("audit:log")
def audit_log(request: HttpRequest) -> HttpResponse:
    return _render_log(request, _filter_form(request))


@route("audit:log-export")
def audit_log_export(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid():
        return _render_log(request, form)  # the same page and message as the viewer, status 400, no file
    response = StreamingHttpResponse(reports.export_csv_rows(request.actor, form.to_filter()), content_type="text/csv; charset=utf-8")
    filename = reports.export_filename(request.actor, timezone.now().date())
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
