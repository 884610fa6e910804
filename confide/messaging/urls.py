"""Messaging's URLs (each with its row in core/routes.py)."""

from django.urls import path

from confide.messaging import email_views

app_name = "messaging"

urlpatterns = [
    # e-mail part: campaigns, the one-click unsubscribe, the chart's notification settings
    path("messaging/campaigns/", email_views.campaign_list, name="campaign-list"),
    path("messaging/campaigns/<uuid:campaign_id>/", email_views.campaign_detail, name="campaign-detail"),
    path("messaging/campaigns/<uuid:campaign_id>/send/", email_views.campaign_send, name="campaign-send"),
    path("messaging/campaigns/<uuid:campaign_id>/progress/", email_views.campaign_progress, name="campaign-progress"),
    path("u/<str:token>/", email_views.unsubscribe_link, name="unsubscribe"),
    path("patients/<uuid:patient_id>/notifications/", email_views.chart_notifications, name="chart-notifications"),
]
