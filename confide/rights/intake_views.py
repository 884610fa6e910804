"""Part "intake" (issue 17): the public request form (`/p/<slug>/privacy/request/`), its code
page, and staff logging a request received another way. Thin: parse, call
confide/rights/intake.py, render.

The public form does not need a published website: a privacy right does not depend on the
practice having one. It is resolved like every public page of a practice (an unknown slug: 404)
and works without JavaScript."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.http import client_ip
from confide.core.public import public_practice_page
from confide.records import intake as forms_intake
from confide.rights import intake
from confide.rights.models import UNVERIFIED_KINDS, RequestKind

_KEPT_OUT = ("csrfmiddlewaretoken", "website", "authorisation")


def _kinds():
    return [(k.value, k.label) for k in intake.PUBLIC_KINDS]


def _form_page(request, practice, *, values=None, errors=None, error_list=(), error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "practice": practice, "kinds": _kinds(), "roles": list(intake.ROLES.items()), "values": values or {"role": "patient"},
        "errors": errors or {}, "error_list": list(error_list), "error": error, "unverified": sorted(k.value for k in UNVERIFIED_KINDS),
    }  # fmt: skip
    return render(request, "rights/public_request.html", context, status=status)


@route("rights:public-request")
@public_practice_page
def public_request(request: HttpRequest, practice) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, practice, values={"role": "patient", "kind": request.GET.get("kind", "")})
    try:
        filed = intake.check_file_public_request(practice=practice, data=request.POST, files=request.FILES, client_ip=client_ip(request),
                                                 request=request)  # fmt: skip
    except forms_intake.Honeypot:
        return render(request, "rights/public_received.html", {"practice": practice})
    except (intake.TooMany, InvalidInput) as exc:
        values = {k: v for k, v in request.POST.items() if k not in _KEPT_OUT}
        status = 429 if isinstance(exc, intake.TooMany) else 400
        if isinstance(exc, forms_intake.FormInvalid):
            return _form_page(request, practice, values=values, errors=exc.by_field, error_list=exc.errors, status=status)
        return _form_page(request, practice, values=values, error=str(exc), status=status)
    if filed.token is None:  # an opt-out: no verification needed
        return render(request, "rights/public_received.html", {"practice": practice, "made": filed.request, "opt_out": True})
    return redirect(reverse("rights:public-verify", kwargs={"practice_slug": practice.slug, "check_token": filed.token}))


@route("rights:public-verify")
@public_practice_page
def public_verify(request: HttpRequest, practice, check_token: str) -> HttpResponse:
    token = check_token
    try:
        check = intake.pending_check(token)
    except intake.CheckGone:
        return render(request, "rights/public_verify_gone.html", {"practice": practice, "message": intake.GONE}, status=404)
    context = {"practice": practice, "token": token, "patient_step": check.step == "patient"}
    if request.method != "POST":
        return render(request, "rights/public_verify.html", context)
    try:
        verified = intake.check_verify_code(practice=practice, token=token, code=request.POST.get("code", ""), request=request)
    except intake.CheckGone:
        return render(request, "rights/public_verify_gone.html", {"practice": practice, "message": intake.GONE}, status=404)
    except intake.VerifyFailed as exc:
        if exc.final:
            return render(request, "rights/public_verify_gone.html", {"practice": practice, "message": str(exc), "failed": True}, status=400)
        return render(request, "rights/public_verify.html", {**context, "error": str(exc)}, status=400)
    except intake.ChangedMeanwhile:
        return render(request, "rights/public_verify_gone.html", {"practice": practice, "message": intake.GONE}, status=409)
    return render(request, "rights/public_received.html", {"practice": practice, "made": verified.request, "verified": True,
                                                            "waiting": verified.waiting_for_patient})  # fmt: skip


def _patients(actor, query: str, request) -> tuple[list, str]:
    """The search's matches, or none and the search's own message (a malformed date, say)."""
    if not query:
        return [], ""
    try:
        return intake.find_patients(actor, query, request=request), ""
    except InvalidInput as exc:
        return [], str(exc)


@route("rights:log")
def log_request(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    query = (request.GET.get("q") or request.POST.get("q") or "").strip()
    context = {
        "query": query, "kinds": list(RequestKind.choices), "channels": [(c.value, c.label) for c in intake.LOG_CHANNELS],
        "evidence": list(intake.EVIDENCE.items()), "values": {}, "error": "",
    }  # fmt: skip
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in ("patient", "kind", "channel", "received", "evidence", "detail")}
        try:
            made = intake.do_log_request(actor=actor, patient_id=values["patient"], kind=values["kind"], channel=values["channel"],
                                         received=values["received"], evidence=values["evidence"], detail=values["detail"],
                                         request=request)  # fmt: skip
        except InvalidInput as exc:
            context.update(values=values, error=str(exc))
            context["patients"] = _patients(actor, query, request)[0]
            return render(request, "rights/log_request.html", context, status=400)
        messages.success(request, f"The request is logged. It must be answered by {made.due_on:%-d %B %Y}.")
        return redirect("rights:queue")
    context["patients"], context["error"] = _patients(actor, query, request)
    return render(request, "rights/log_request.html", context, status=400 if context["error"] else 200)

