"""The staff inbox's pages: parse, call a service (messaging/inbox.py, message_templates.py),
render (STYLE.md). Every route's access is its row in core/routes.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.permissions import Perm
from confide.messaging import chart_consent, inbox, message_templates
from confide.messaging.models import BODY_MAX, Channel, PORTAL_BODY_MAX


def _page_number(value) -> int:
    try:
        return max(1, int(str(value or "1")[:6]))
    except ValueError:
        return 1


def _unmatched_url() -> str:
    """The unmatched senders' queue, if this build has it (another part of the inbox)."""
    try:
        return reverse("messaging:unmatched")
    except NoReverseMatch:
        return ""


@route("messaging:inbox")
def inbox_page(request: HttpRequest) -> HttpResponse:
    which = str(request.GET.get("show", "all") or "all")[:20]
    status, error = 200, None
    try:
        page = inbox.list_threads(request.actor, which, _page_number(request.GET.get("page")), request=request)
    except InvalidInput as exc:
        status, error = 400, str(exc)
        page = inbox.list_threads(request.actor, "all", 1, request=request)
    context = {"page": page, "filters": inbox.FILTERS, "error": error, "unmatched_url": _unmatched_url()}
    return render(request, "messaging/inbox.html", context, status=status)


def _thread_page(request: HttpRequest, thread_id, *, status: int = 200, reply_body: str = "", reply_channel: str = "") -> HttpResponse:
    conversation = inbox.read_thread(request.actor, thread_id, request=request)
    context = {
        "c": conversation,
        "channels": [(c.value, c.label) for c in inbox.REPLY_CHANNELS],
        "reply_channel": reply_channel or conversation.default_channel,
        "reply_body": reply_body,
        "assignees": inbox.assignee_choices(request.actor),
        "templates": message_templates.list_templates(request.actor) if request.actor.has(Perm.MESSAGES_SEND) else [],
        "can_send": request.actor.has(Perm.MESSAGES_SEND),
        "body_max": PORTAL_BODY_MAX,
        "sms_max": BODY_MAX,
        "unmatched_url": _unmatched_url(),
    }
    if context["can_send"]:  # the hint by the reply box: one read of the ledger
        context["texts_agreed"] = chart_consent.texts_agreed(request.actor.practice_id, conversation.thread.patient_id)
    return render(request, "messaging/thread.html", context, status=status)


@route("messaging:thread")
def thread_page(request: HttpRequest, thread_id) -> HttpResponse:
    return _thread_page(request, thread_id)


@route("messaging:thread-assign")
def thread_assign(request: HttpRequest, thread_id) -> HttpResponse:
    try:
        thread = inbox.do_assign(request.actor, thread_id, assignee=request.POST.get("assignee", ""), seen=request.POST.get("seen", ""), request=request)
    except inbox.AssignedMeanwhile as exc:
        messages.warning(request, str(exc))
        return _thread_page(request, thread_id, status=409)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return _thread_page(request, thread_id, status=400)
    messages.success(request, "Assigned to you." if thread.assigned_to_id == request.actor.user_id else
                     "Unassigned." if thread.assigned_to_id is None else "Assigned.")  # fmt: skip
    return redirect("messaging:thread", thread_id=thread.pk)


@route("messaging:thread-handled")
def thread_handled(request: HttpRequest, thread_id) -> HttpResponse:
    """"Mark as handled" on an emergency or crisis flag. A flag no longer there (a second click,
    someone else first) is said in words and the thread shown again: nothing is changed."""
    try:
        inbox.do_mark_handled(request.actor, thread_id, seen=request.POST.get("seen", ""), request=request)
    except inbox.NotFlagged as exc:
        messages.info(request, str(exc))
        return redirect("messaging:thread", thread_id=thread_id)
    messages.success(request, "Marked as handled: the urgent flag is cleared.")
    return redirect("messaging:thread", thread_id=thread_id)


REVIEW_DECISIONS = {"keep": True, "resume": False}


@route("messaging:thread-opt-out-review")
def thread_opt_out_review(request: HttpRequest, thread_id) -> HttpResponse:
    """The answer to a free-text "stop": keep the opt-out, or texts may resume."""
    keep = REVIEW_DECISIONS.get(str(request.POST.get("decision", ""))[:10])
    try:
        inbox.do_review_opt_out(request.actor, thread_id, keep=keep, request=request)
    except inbox.NotFlagged as exc:
        messages.info(request, str(exc))
        return redirect("messaging:thread", thread_id=thread_id)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return _thread_page(request, thread_id, status=400)
    if keep:
        messages.success(request, "The opt-out stands: no more texts to this number.")
    else:
        messages.success(request, "Texts to this number may resume. Their consent to texts must be recorded again "
                                  "before texts about their care are sent.")  # fmt: skip
    return redirect("messaging:thread", thread_id=thread_id)


@route("messaging:reply")
def reply(request: HttpRequest, thread_id) -> HttpResponse:
    # "Move to the portal and send": anything clinical goes in the secure thread, whatever was chosen.
    channel = Channel.PORTAL.value if request.POST.get("move_to_portal") == "1" else str(request.POST.get("channel", ""))[:16]
    body = request.POST.get("body", "")
    try:
        outcome = inbox.do_reply(request.actor, thread_id, channel=channel, body=body, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        known = channel if channel in Channel.values else ""
        return _thread_page(request, thread_id, status=400, reply_body=body if isinstance(body, str) else "", reply_channel=known)
    getattr(messages, outcome.level)(request, outcome.words)
    return redirect("messaging:thread", thread_id=outcome.message.thread_id)


# --- templates -------------------------------------------------------------------------------
@route("messaging:templates")
def templates_list(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/templates.html", {"templates": message_templates.list_templates(request.actor)})


def _template_form(request: HttpRequest, template_id=None) -> HttpResponse:
    template = message_templates.get_template(request.actor, template_id) if template_id else None
    values = {"name": template.name if template else "", "body": template.body if template else ""}
    error, status = None, 200
    if request.method == "POST":
        values = {"name": request.POST.get("name", ""), "body": request.POST.get("body", "")}
        try:
            message_templates.do_save_template(request.actor, template_id=template_id, **values)
        except InvalidInput as exc:
            error, status = str(exc), 400
        else:
            messages.success(request, "Template saved.")
            return redirect("messaging:templates")
    context = {"template": template, "values": values, "error": error, "name_max": message_templates.NAME_MAX, "body_max": BODY_MAX}
    return render(request, "messaging/template_form.html", context, status=status)


@route("messaging:template-new")
def template_new(request: HttpRequest) -> HttpResponse:
    return _template_form(request)


@route("messaging:template-edit")
def template_edit(request: HttpRequest, template_id) -> HttpResponse:
    return _template_form(request, template_id)


@route("messaging:template-delete")
def template_delete(request: HttpRequest, template_id) -> HttpResponse:
    message_templates.do_delete_template(request.actor, template_id)
    messages.success(request, "Template deleted.")
    return redirect("messaging:templates")


@route("messaging:attachment")
def attachment(request: HttpRequest, attachment_id) -> HttpResponse:
    from confide.messaging.attachments import open_attachment_for_staff, streamed

    download = open_attachment_for_staff(request.actor, attachment_id, request=request)
    return streamed(download)
