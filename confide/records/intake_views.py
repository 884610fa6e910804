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


# The contact and authorization inputs that must be filled in (the form's own questions say
# theirs); a problem reported for "guardian" belongs to the guardian's name input.
REQUIRED_INPUTS = ("given_name", "family_name", "date_of_birth", "authorize")
_INPUT_OF = {"guardian": "guardian_name"}
PHOTO_NOT_KEPT = "For your safety, a photo is never kept when the form is sent back to you: please add it again."


def _questions(form, values: dict, errors: dict) -> list[dict]:
    """What the template needs for each question: its input name, the value typed, its problem,
    and for the medications question its rows of (name, dose, kind) inputs."""
    out = []
    for q in form.questions:
        name = f"q_{q['id']}"
        rows = []
        if q["type"] == "medications":
            for row in range(intake.MEDICATION_ROWS):
                fields = {part: intake.medication_field(q["id"], row, part) for part in ("name", "dose", "kind")}
                rows.append({
                    "number": row + 1, "names": fields, "values": {part: values.get(f, "") for part, f in fields.items()},
                    "error": next((errors[f] for f in fields.values() if f in errors), ""),
                })  # fmt: skip
        out.append({"q": q, "name": name, "value": values.get(name, ""), "error": errors.get(name, ""), "rows": rows})
    return out


def _consult_context(practice, form, *, values: dict, errors: dict | None = None, error_list=(), **extra) -> dict:
    from confide.policy.services import declaration_in_force

    errors = errors or {}
    return {
        "practice": practice,
        "form": form,
        "questions": _questions(form, values, errors),
        "kinds": intake.MEDICATION_KINDS,
        "values": values,
        "errors": {_INPUT_OF.get(k, k): v for k, v in errors.items()},
        # The summary at the top: each problem with the id of the input it is about.
        "error_list": [(_INPUT_OF.get(k, k), message) for k, message in error_list],
        "token": intake.new_token(practice.id),
        "age": declaration_in_force(practice.id).age,
        **extra,
    }


def _typed(request) -> dict:
    """What the visitor typed, to put back after a refusal (never the token, the CSRF token or
    the honeypot; files cannot be put back)."""
    return {k: v for k, v in request.POST.items() if k not in ("token", "csrfmiddlewaretoken", "website")}


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
    except (intake.TooMany, InvalidInput) as exc:
        # Values are put back so a mistake (or the hourly limit) does not cost the visitor their
        # answers; a photo cannot be, and the page says so.
        photo_note = PHOTO_NOT_KEPT if any(f.startswith("q_") for f in request.FILES) else ""
        if isinstance(exc, intake.FormInvalid):
            context = _consult_context(practice, form, values=_typed(request), errors=exc.by_field, error_list=exc.errors, photo_note=photo_note)
        else:
            context = _consult_context(practice, form, values=_typed(request), error=str(exc), photo_note=photo_note)
        return render(request, "records/consult.html", context, status=429 if isinstance(exc, intake.TooMany) else 400)
    return render(request, "records/consult_received.html", {"practice": practice})


@route("intake:queue")
def queue(request: HttpRequest) -> HttpResponse:
    from confide.core.permissions import Perm

    rows = intake.list_queue(request.actor, request=request)
    return render(request, "records/intake_queue.html", {"rows": rows, "can_review": request.actor.has(Perm.INTAKE_REVIEW)})


def _detail_page(request, submission_id, status: int = 200, **context) -> HttpResponse:
    review = intake.review_submission(request.actor, submission_id, request=request)
    context.setdefault("reject", {"message": "none", "text": ""})
    return render(request, "records/intake_detail.html", {"review": review, "reject_messages": intake.REJECT_MESSAGES,
                                                          "rejection_fixed": intake.REJECTION_FIXED, "medication_kinds": intake.MEDICATION_KINDS,
                                                          "text_limit": intake.REJECTION_TYPED_MAX, **context}, status=status)  # fmt: skip


@route("intake:detail")
def detail(request: HttpRequest, submission_id) -> HttpResponse:
    return _detail_page(request, submission_id)


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
    message, text = request.POST.get("message") or "none", request.POST.get("text", "")
    try:
        intake.do_reject(actor=request.actor, submission_id=submission_id, message=message, text=text, request=request)
    except intake.AlreadyReviewed as exc:
        messages.error(request, str(exc))
        return redirect("intake:queue")
    except InvalidInput as exc:
        # The page again, with what was typed (a NUL or a wrong choice is not put back as it came).
        kept = {"message": message if message in intake.REJECT_MESSAGES else "none", "text": text.replace("\x00", "")}
        return _detail_page(request, submission_id, status=400, reject=kept, reject_error=str(exc))
    sent = {"fixed": " The standard message was sent to the applicant.", "typed": " Your message was sent to the applicant."}.get(message, "")
    messages.success(request, "The consultation was rejected and erased." + sent)
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
