"""Patient list with blind-index search. Thin: parse, call a service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.records import services


@route("records:patient-list")
def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    error = None
    try:
        patients = services.list_patient_summaries(request.actor, query, request=request)
    except InvalidInput as exc:
        patients, error = [], str(exc)
    context = {"patients": patients, "query": query, "error": error}
    if request.htmx:
        # htmx swaps only 2xx responses; the message is inside the fragment it replaces.
        return render(request, "records/_patient_rows.html", context)
    return render(request, "records/patient_list.html", context, status=400 if error else 200)
