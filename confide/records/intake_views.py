"""Online consultations: the public form, the staff review queue, accept/reject, the form's
settings. Thin: parse, call confide/records/intake.py, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.http import client_ip
from confide.core.public import public_practice_page
from confide.policy.loader import PolicyError
from confide.records import intake


def _consult_context(practice, form, **extra) -> dict:
    from confide.policy.services import declaration_in_force

    return {
        "practice": practice,
        "form": form,
        "token": intake.new_token(practice.id),
        "age": declaration_in_force(practice.id).age,
        **extra,
    }


@route("intake:consult")
@public_practice_page
def consult(request: HttpRequest, practice) -> HttpResponse:
    form = intake.current_form(practice.id)
    if request.method == "GET":
        return render(request, "records/consult.html", _consult_context(practice, form, values={}))
    try:
        intake.check_submit_consultation(
            practice=practice, data=request.POST, files=request.FILES, client_ip=client_ip(request), request=request
        )
    except intake.Honeypot:
        return render(request, "records/consult_received.html", {"practice": practice})
    except intake.AlreadyReceived:
        return render(request, "records/consult_received.html", {"practice": practice, "already": True})
    except intake.TooMany as exc:
        return render(request, "records/consult.html", _consult_context(practice, form, error=str(exc), values={}), status=429)
    except InvalidInput as exc:
        # Values are put back so a mistake does not cost the visitor their answers; files are not.
        values = {k: v for k, v in request.POST.items() if k not in ("token", "csrfmiddlewaretoken", "website")}
        return render(request, "records/consult.html", _consult_context(practice, form, error=str(exc), values=values), status=400)
    return render(request, "records/consult_received.html", {"practice": practice})


@route("intake:queue")
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "records/intake_queue.html", {"rows": intake.list_queue(request.actor)})


@route("intake:detail")
def detail(request: HttpRequest, submission_id) -> HttpResponse:
    review = intake.review_submission(request.actor, submission_id, request=request)
    return render(request, "records/intake_detail.html", {"review": review})


@route("intake:photo")
def photo(request: HttpRequest, submission_id, photo_id) -> HttpResponse:
    content_type, data = intake.open_intake_photo(request.actor, submission_id, photo_id, request=request)
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = "inline"
    return response


@route("intake:accept")
def accept(request: HttpRequest, submission_id) -> HttpResponse:
    merge_into = request.POST.get("merge_into") or None
    try:
        patient = intake.do_accept(actor=request.actor, submission_id=submission_id, merge_into=merge_into, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect("intake:queue")
    messages.success(request, "The consultation is now part of the patient's chart; the submission itself was erased.")
    return _chart_or_queue(patient)


def _chart_or_queue(patient):
    from django.urls import NoReverseMatch, reverse

    try:
        return redirect(reverse("records:chart", kwargs={"patient_id": patient.pk}))
    except NoReverseMatch:
        return redirect("intake:queue")


@route("intake:reject")
def reject(request: HttpRequest, submission_id) -> HttpResponse:
    intake.do_reject(actor=request.actor, submission_id=submission_id, request=request)
    messages.success(request, "The consultation was rejected and erased.")
    return redirect("intake:queue")


@route("records:chart-consultations")
def chart_consultations(request: HttpRequest, patient_id) -> HttpResponse:
    from confide.records import chart
    from confide.records.views import _chart_page

    data = chart.get_consultations(request.actor, patient_id, request=request)
    return _chart_page(request, "records/chart/consultations.html", "consultations", data.header, consultations=data)


@route("intake:form")
def form_settings(request: HttpRequest) -> HttpResponse:
    from confide.core.tenancy import current_practice_id

    form = intake.current_form(current_practice_id())
    context = {"form": form, "text": intake.form_definition_toml(form), "error": None}
    if request.method == "POST":
        text = request.POST.get("definition", "")
        try:
            intake.do_update_form(actor=request.actor, definition_toml=text, request=request)
        except (PolicyError, InvalidInput) as exc:
            context.update(text=text, error=str(exc))
            return render(request, "records/intake_form.html", context, status=400)
        messages.success(request, "The consultation form was updated; earlier submissions keep the version they answered.")
        return redirect("intake:form")
    return render(request, "records/intake_form.html", context)
