"""The portal's messages tab: the patient's conversation with the practice (MSG1, MSG5), their
message and its file, the files of the conversation (messaging/portal_thread.py, attachments.py).
Like every portal page it acts on the account's current record, never on an id from the URL
(an attachment's id is looked up within that record's conversation only)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.messaging import attachments, portal_thread
from confide.messaging.models import PORTAL_BODY_MAX
from confide.records.uploads import check_file_count


def _page(request: HttpRequest, *, status: int = 200, body: str = "") -> HttpResponse:
    if request.portal.actor is None:
        return render(request, "portal/no_record.html")
    context = {
        "portal_section": "messages",
        "lines": portal_thread.read_my_thread(request.portal.actor, request=request),
        "body": body,
        "body_max": PORTAL_BODY_MAX,
    }
    return render(request, "portal/messages.html", context, status=status)


@route("portal:messages")
def messages_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@route("portal:message-send")
def message_send(request: HttpRequest) -> HttpResponse:
    if request.portal.actor is None:
        return render(request, "portal/no_record.html")
    body = request.POST.get("body", "")
    try:
        check_file_count(request.FILES)
        if len(request.FILES.getlist("file")) > 1:
            raise InvalidInput("Attach one file to a message.")
        portal_thread.do_write(request.portal.actor, body=body, upload=request.FILES.get("file"), request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return _page(request, status=400, body=body if isinstance(body, str) else "")
    messages.success(request, "Your message is sent. The practice will answer here.")
    return redirect("portal:messages")


@route("portal:message-attachment")
def message_attachment(request: HttpRequest, attachment_id) -> HttpResponse:
    if request.portal.actor is None:
        return render(request, "portal/no_record.html", status=404)
    return attachments.streamed(attachments.open_attachment_for_patient(request.portal.actor, attachment_id, request=request))
