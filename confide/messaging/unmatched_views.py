"""The unmatched texts page: parse, one service call, render (STYLE: a view is a parser)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.core.decorators import route
from confide.core.errors import Forbidden, InvalidInput
from confide.messaging import unmatched


def _find(request: HttpRequest, query: str) -> tuple[list, str]:
    """Patients to file a text under, by name, phone, e-mail or date of birth (names only)."""
    from confide.records.audit_names import patient_names
    from confide.records.services import search_patient_ids

    query = query.strip()[:100]
    if not query:
        return [], "Type a name, a phone number, an e-mail address or a date of birth (YYYY-MM-DD)."
    try:
        ids = search_patient_ids(request.actor, query)
        names = patient_names(request.actor, ids[:20], request)
    except (InvalidInput, Forbidden) as exc:
        return [], str(exc)
    found = sorted(names.items(), key=lambda item: item[1].casefold())
    return found, "" if found else "No patient matches that search."


@route("messaging:unmatched")
def queue(request: HttpRequest) -> HttpResponse:
    rows = unmatched.list_unmatched(request.actor, request=request)
    context = {"rows": rows, "found": [], "search_error": "", "searching": None, "q": ""}
    if request.method == "POST":
        context["q"] = (request.POST.get("q") or "").replace("\x00", "")[:100]
        wanted = request.POST.get("item") or ""
        context["searching"] = next((r.id for r in rows if str(r.id) == wanted), None)
        if context["searching"] is None:
            context["search_error"] = "Choose a text to file first."
        else:
            context["found"], context["search_error"] = _find(request, context["q"])
    return render(request, "messaging/unmatched.html", context)


@route("messaging:unmatched-file")
def file_under(request: HttpRequest, unmatched_id) -> HttpResponse:
    try:
        unmatched.do_file_unmatched(actor=request.actor, unmatched_id=unmatched_id, patient_id=request.POST.get("patient_id", ""), request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect("messaging:unmatched")
    messages.success(request, "The text is now in the patient's conversation.")
    return redirect("messaging:unmatched")


@route("messaging:unmatched-dismiss")
def dismiss(request: HttpRequest, unmatched_id) -> HttpResponse:
    try:
        unmatched.do_dismiss_unmatched(actor=request.actor, unmatched_id=unmatched_id, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect("messaging:unmatched")
    messages.success(request, "The text was dismissed.")
    return redirect("messaging:unmatched")
