"""The audit viewer's patient finder: "who opened this record?" for the privacy officer. Thin:
parse the posted search, one service call (records/audit_names.py), render names linking to
the audit log filtered by the patient's id (ids in URLs, never what was searched for)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.records import audit_names

QUERY_MAX = 200


@route("records:audit-patient-finder")
def audit_patient_finder(request: HttpRequest) -> HttpResponse:
    query, found, error = "", None, None
    if request.method == "POST":
        query = request.POST.get("q", "")
        if len(query) > QUERY_MAX:
            error = f"Search: at most {QUERY_MAX} characters."
        else:
            try:
                found = audit_names.find_patients(request.actor, query, request=request)
            except InvalidInput as exc:
                error = str(exc)
    context = {"query": query[:QUERY_MAX], "found": found, "error": error}
    return render(request, "records/audit_patient_finder.html", context, status=400 if error else 200)
