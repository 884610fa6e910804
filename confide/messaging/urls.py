from django.urls import path

from confide.messaging import outbox_views

app_name = "messaging"
urlpatterns = [
    # twilio part: the console outbox (development and demo)
    path("messaging/outbox/", outbox_views.outbox, name="outbox"),
]
