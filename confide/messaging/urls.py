from django.urls import path

from confide.messaging import outbox_views, unmatched_views, webhook_views

app_name = "messaging"
urlpatterns = [
    # --- inbound (issue 15 items 4-6): Twilio's signed webhooks and the unmatched queue
    path("hooks/sms/twilio", webhook_views.hook_sms, name="hook-sms"),
    path("hooks/sms/twilio/status", webhook_views.hook_sms_status, name="hook-sms-status"),
    path("messages/unmatched/", unmatched_views.queue, name="unmatched"),
    path("messages/unmatched/<uuid:unmatched_id>/file", unmatched_views.file_under, name="unmatched-file"),
    path("messages/unmatched/<uuid:unmatched_id>/dismiss", unmatched_views.dismiss, name="unmatched-dismiss"),
    # --- the console outbox (development and demo)
    path("messages/outbox/", outbox_views.outbox, name="outbox"),
]
