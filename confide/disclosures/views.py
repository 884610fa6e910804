"""Staff pages of the accounting of disclosures. Thin: parse, call the service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.permissions import Perm
from confide.disclosures import report, staff
from confide.disclosures.forms import CompelledForm, RecordForm

FORMATS = {"pdf", "json"}


def _page(request, patient_id, **context) -> HttpResponse:
    status = context.pop("status", 200)
    return render(request, context.pop("template"), {"patient_id": patient_id, **context}, status=status)


@route("disclosures:patient")
def patient(request: HttpRequest, patient_id) -> HttpResponse:
    data = staff.get_patient_disclosures(actor=request.actor, patient_id=patient_id, request=request)
    return _page(
        request, patient_id, template="disclosures/patient.html", data=data, accounting=data.accounting,
        can_compel=request.actor.has(Perm.DISCLOSURES_COMPELLED),
    )  # fmt: skip


@route("disclosures:report")
def report_download(request: HttpRequest, patient_id) -> HttpResponse:
    fmt = request.GET.get("format", "pdf")
    if fmt not in FORMATS:
        return HttpResponse("Choose PDF or JSON.", status=400, content_type="text/plain")
    data = staff.get_patient_disclosures(actor=request.actor, patient_id=patient_id, request=request)
    today = timezone.localdate()
    if fmt == "json":
        response = HttpResponse(report.as_json(data.accounting), content_type="application/json")
    else:
        pdf = report.render_pdf(data.accounting, practice_name=staff.practice_name(request.actor.practice_id), patient_name=data.patient_name)
        response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="accounting-of-disclosures-{today:%Y-%m-%d}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@route("disclosures:record")
def record(request: HttpRequest, patient_id) -> HttpResponse:
    name = staff.get_patient_name(actor=request.actor, patient_id=patient_id, request=request)
    choices = staff.category_choices(staff.RECORDABLE_CATEGORIES)
    form = RecordForm(request.POST or None, category_choices=choices, initial={"disclosed_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            staff.do_record_disclosure(
                actor=request.actor, patient_id=patient_id, basis=data["basis"], recipient=data["recipient"],
                recipient_address=data["recipient_address"], description=data["description"], purpose=data["purpose"],
                categories=data["categories"], disclosed_on=data["disclosed_on"], notice_forbidden=data["notice_forbidden"],
                notice_forbidden_until=data["notice_forbidden_until"], request=request,
            )  # fmt: skip
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "The disclosure is recorded in the accounting.")
            return redirect(reverse("disclosures:patient", args=[patient_id]))
    status = 400 if request.method == "POST" else 200
    return _page(request, patient_id, template="disclosures/record.html", form=form, patient_name=name, status=status)


@route("disclosures:compelled")
def compelled(request: HttpRequest, patient_id) -> HttpResponse:
    name = staff.get_patient_name(actor=request.actor, patient_id=patient_id, request=request)
    choices = staff.category_choices(staff.PACKAGE_CATEGORIES)
    form = CompelledForm(request.POST or None, category_choices=choices, initial={"disclosed_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            package = staff.check_produce_compelled(
                actor=request.actor, patient_id=patient_id, basis=data["basis"], reference=data["reference"],
                recipient=data["recipient"], recipient_address=data["recipient_address"], purpose=data["purpose"],
                categories=data["categories"], disclosed_on=data["disclosed_on"], notice_forbidden=data["notice_forbidden"],
                notice_forbidden_until=data["notice_forbidden_until"], practice_name=staff.practice_name(request.actor.practice_id),
                request=request,
            )  # fmt: skip
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            response = HttpResponse(package.pdf, content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{package.filename}"'
            response["Cache-Control"] = "no-store"
            return response
    status = 400 if request.method == "POST" else 200
    return _page(request, patient_id, template="disclosures/compelled.html", form=form, patient_name=name, status=status)
