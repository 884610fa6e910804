"""Pages of the e-mail part: campaigns (staff), the one-click unsubscribe (public), and the
chart's "Messages and notifications" page (staff)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.purposes import Purpose
from confide.core.permissions import Perm
from confide.messaging import campaigns, chart_consent, preferences, unsubscribe
from confide.records.values import phone_for_display
from confide.messaging.models import EMAIL_BODY_MAX, Campaign, CampaignStatus, Channel, NotificationTopic


# --- campaigns ------------------------------------------------------------------------------------
class CampaignForm(forms.Form):
    name = forms.CharField(label="Name (for staff; patients do not see it)", max_length=120)
    channel = forms.ChoiceField(label="Send by", choices=[(Channel.EMAIL.value, "E-mail"), (Channel.SMS.value, "Text message")],
                                widget=forms.RadioSelect, initial=Channel.EMAIL.value)  # fmt: skip
    subject = forms.CharField(label="E-mail subject (no patient information)", max_length=120, required=False)
    body = forms.CharField(label="Message", max_length=EMAIL_BODY_MAX, widget=forms.Textarea(attrs={"rows": 8}),
                           help_text="Your practice's news or offer. It goes only to patients who agreed to news and offers by this channel.")  # fmt: skip


@route("messaging:campaign-list")
def campaign_list(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                campaign = campaigns.create_campaign(request.actor, request=request, **form.cleaned_data)
                messages.success(request, "Campaign saved as a draft. Check its audience, then send it.")
                return redirect("messaging:campaign-detail", campaign_id=campaign.pk)
            except InvalidInput as exc:
                error = str(exc)
    rows = campaigns.list_campaigns(request.actor)
    return render(request, "messaging/campaign_list.html", {"campaigns": rows, "form": form, "error": error}, status=status)


def _detail(request: HttpRequest, campaign: Campaign, *, status: int = 200, error: str | None = None) -> HttpResponse:
    audience = campaigns.audience_size(request.actor.practice_id, campaign.channel) if campaign.status == CampaignStatus.DRAFT else None
    context = {"campaign": campaign, "audience": audience, "error": error, "progress": _progress(campaign)}
    return render(request, "messaging/campaign_detail.html", context, status=status)


def _progress(campaign: Campaign) -> dict:
    total = max(campaign.audience_count, campaign.processed_count, 1)
    return {"percent": min(100, round(100 * campaign.processed_count / total)) if campaign.status != CampaignStatus.SENT else 100,
            "running": campaign.status == CampaignStatus.SENDING}  # fmt: skip


@route("messaging:campaign-detail")
def campaign_detail(request: HttpRequest, campaign_id) -> HttpResponse:
    return _detail(request, campaigns.get_campaign(request.actor, campaign_id))


@route("messaging:campaign-send")
def campaign_send(request: HttpRequest, campaign_id) -> HttpResponse:
    campaign, started = campaigns.start_campaign(request.actor, campaign_id, request=request)
    if started:
        messages.success(request, "Sending started. Only patients who agreed to news and offers by this channel get it.")
    else:
        messages.info(request, "This campaign was already sent or is being sent; nothing was sent again.")
    return redirect("messaging:campaign-detail", campaign_id=campaign.pk)


@route("messaging:campaign-progress")
def campaign_progress(request: HttpRequest, campaign_id) -> HttpResponse:
    """The progress part htmx asks for while a campaign is sending; opened as a page of its own
    (a bookmark, a browser without JavaScript) it is the campaign's whole page."""
    campaign = campaigns.get_campaign(request.actor, campaign_id)
    if not getattr(request, "htmx", False):
        return _detail(request, campaign)
    return render(request, "messaging/_campaign_progress.html", {"campaign": campaign, "progress": _progress(campaign)})


# --- one-click unsubscribe (RFC 8058) -------------------------------------------------------------
@csrf_exempt  # mailbox providers POST without cookies; the signed token is the authentication
@route("messaging:unsubscribe")
def unsubscribe_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        found = unsubscribe.read_token(token)
    except InvalidInput as exc:
        return render(request, "messaging/unsubscribe.html", {"error": str(exc)}, status=400)
    name = unsubscribe.practice_name(found.practice_id)
    if not name:  # well signed, but no such practice (any more): as any unknown page
        return render(request, "messaging/unsubscribe.html", {"error": unsubscribe.BAD_LINK}, status=404)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        if not one_click and request.POST.get("confirm") != "yes":
            return render(request, "messaging/unsubscribe.html", {"practice_name": name, "error": "Press the button to unsubscribe."}, status=400)
        try:
            unsubscribe.do_unsubscribe(token, request=request)
        except InvalidInput as exc:
            return render(request, "messaging/unsubscribe.html", {"error": str(exc)}, status=400)
        return render(request, "messaging/unsubscribe.html", {"practice_name": name, "done": True})
    return render(request, "messaging/unsubscribe.html", {"practice_name": name})


# --- the chart's "Messages and notifications" page ------------------------------------------------
def preference_rows(current: dict) -> list[dict]:
    return [{"topic": topic, "label": label, "channels": [(c, Channel(c).label, current[topic][c]) for c in preferences.CHANNELS]}
            for topic, label in NotificationTopic.choices]  # fmt: skip


def choices_from_post(post) -> dict:
    """{topic: {channel: bool}} from checkboxes named `<topic>:<channel>` (unchecked: absent)."""
    return {topic: {c: post.get(f"{topic}:{c}") == "on" for c in preferences.CHANNELS} for topic in NotificationTopic.values}


def _notifications_page(request: HttpRequest, patient_id, *, status: int = 200, error: str | None = None,
                        consent_error: str | None = None, consent_topic: str = "", posted: dict | None = None) -> HttpResponse:
    from confide.records import chart

    header, phone, email = chart.get_header_and_contact(request.actor, patient_id, Purpose.OPERATIONS, request=request)
    current = preferences.get_preferences(request.actor.practice_id, header.id)
    rows = chart_consent.consent_rows(request.actor.practice_id, header.id, phone=phone_for_display(phone) if phone else "", email=email)
    context = {
        "header": header, "rows": preference_rows(current), "error": error, "consent_rows": rows,
        "can_record_consent": request.actor.has(Perm.CONSENT_RECORD), "how_choices": [(k, v[2]) for k, v in chart_consent.HOW.items()],
        "consent_error": consent_error, "consent_topic": consent_topic, "posted": posted or {},
    }  # fmt: skip
    return render(request, "messaging/chart_notifications.html", context, status=status)


@route("messaging:chart-notifications")
def chart_notifications(request: HttpRequest, patient_id) -> HttpResponse:
    if request.method == "POST":
        try:
            preferences.set_preferences(request.actor, patient_id, choices_from_post(request.POST), request=request)
            messages.success(request, "Notification settings saved.")
            return redirect("messaging:chart-notifications", patient_id=patient_id)
        except InvalidInput as exc:
            return _notifications_page(request, patient_id, status=400, error=str(exc))
    return _notifications_page(request, patient_id)


@route("messaging:chart-consent")
def chart_consent_record(request: HttpRequest, patient_id) -> HttpResponse:
    """Record what the patient agreed to (or withdrew) by phone or on paper: one topic a post."""
    post = request.POST
    fields = {name: post.get(name, "") for name in ("topic", "action", "how", "words", "seen")}
    try:
        event = chart_consent.do_record(request.actor, patient_id, **fields, request=request)
    except chart_consent.StaleChoice as exc:
        return _notifications_page(request, patient_id, status=409, consent_error=str(exc), consent_topic=str(fields["topic"])[:40])
    except InvalidInput as exc:
        posted = {"how": fields["how"] if fields["how"] in chart_consent.HOW else "", "words": str(fields["words"])[:5000]}
        return _notifications_page(request, patient_id, status=400, consent_error=str(exc), consent_topic=str(fields["topic"])[:40], posted=posted)
    label = chart_consent.TOPICS.get(event.topic, "The choice")
    messages.success(request, f"{label}: {'agreement' if event.action == 'grant' else 'withdrawal'} recorded.")
    return redirect(f"{reverse('messaging:chart-notifications', kwargs={'patient_id': patient_id})}#consent")
