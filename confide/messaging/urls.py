"""Messaging's URLs (each with its row in core/routes.py): Twilio's webhooks, the staff inbox,
the unmatched senders' queue, the practice's templates, the console outbox, campaigns, the
one-click unsubscribe, the chart's notification settings."""

from django.urls import path

from confide.messaging import email_views, outbox_views, unmatched_views, views, webhook_views

app_name = "messaging"

urlpatterns = [
    # Twilio's signed webhooks (inbound texts, delivery status)
    path("hooks/sms/twilio", webhook_views.hook_sms, name="hook-sms"),
    path("hooks/sms/twilio/status", webhook_views.hook_sms_status, name="hook-sms-status"),
    # the inbox
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/threads/<uuid:thread_id>/", views.thread_page, name="thread"),
    path("inbox/threads/<uuid:thread_id>/assign/", views.thread_assign, name="thread-assign"),
    path("inbox/threads/<uuid:thread_id>/reply/", views.reply, name="reply"),
    path("inbox/threads/<uuid:thread_id>/handled/", views.thread_handled, name="thread-handled"),
    path("inbox/threads/<uuid:thread_id>/opt-out-review/", views.thread_opt_out_review, name="thread-opt-out-review"),
    path("inbox/attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
    path("inbox/templates/", views.templates_list, name="templates"),
    path("inbox/templates/new/", views.template_new, name="template-new"),
    path("inbox/templates/<uuid:template_id>/", views.template_edit, name="template-edit"),
    path("inbox/templates/<uuid:template_id>/delete/", views.template_delete, name="template-delete"),
    # texts from numbers no single patient has
    path("inbox/unmatched/", unmatched_views.queue, name="unmatched"),
    path("inbox/unmatched/<uuid:unmatched_id>/file", unmatched_views.file_under, name="unmatched-file"),
    path("inbox/unmatched/<uuid:unmatched_id>/dismiss", unmatched_views.dismiss, name="unmatched-dismiss"),
    # the console adapter's outbox (development and the demo)
    path("inbox/outbox/", outbox_views.outbox, name="outbox"),
    # e-mail part: campaigns, the one-click unsubscribe, the chart's notification settings
    path("inbox/campaigns/", email_views.campaign_list, name="campaign-list"),
    path("inbox/campaigns/<uuid:campaign_id>/", email_views.campaign_detail, name="campaign-detail"),
    path("inbox/campaigns/<uuid:campaign_id>/send/", email_views.campaign_send, name="campaign-send"),
    path("inbox/campaigns/<uuid:campaign_id>/progress/", email_views.campaign_progress, name="campaign-progress"),
    path("u/<str:token>/", email_views.unsubscribe_link, name="unsubscribe"),
    path("patients/<uuid:patient_id>/notifications/", email_views.chart_notifications, name="chart-notifications"),
    # consent part: the front desk records what the patient agreed to (by phone, on paper)
    path("patients/<uuid:patient_id>/notifications/consent/", email_views.chart_consent_record, name="chart-consent"),
]
