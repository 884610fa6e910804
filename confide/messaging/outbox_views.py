"""The staff Outbox page: what the console SMS adapter "sent", while it is the configured
adapter (a 404 otherwise: with Twilio configured there is no outbox). Never a body, never a
number; the patient's name where the viewer's role sees names (one audited list opening)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from confide.access import policy
from confide.access.door import open_patient_list
from confide.core.decorators import route
from confide.core.purposes import Purpose
from confide.messaging.models import Channel, Kind
from confide.messaging.outbox import console_configured, outbox_rows


@route("messaging:outbox")
def outbox(request: HttpRequest) -> HttpResponse:
    if not console_configured():
        raise Http404("The outbox exists only while texts go to the console adapter.")
    actor = request.actor
    rows = outbox_rows(actor.practice_id, limit=100)
    names: dict = {}
    patient_ids = {r.patient_id for r in rows if r.patient_id}
    if patient_ids and policy.NAME in policy.categories_for(actor.role, Purpose.OPERATIONS):
        with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories={policy.NAME}, request=request) as patients:
            for patient in patients:
                names[patient.pk] = " ".join(p for p in (patient.given_name, patient.family_name) if p) or "[no name]"
    entries = [
        {"row": r, "name": names.get(r.patient_id), "channel": Channel(r.channel).label, "kind": Kind(r.kind).label}
        for r in rows
    ]
    return render(request, "messaging/outbox.html", {"entries": entries})
