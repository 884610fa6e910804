"""The practice's public face (each URL with its row in core/routes.py)."""

from django.urls import path

from confide.directory import booking_views

app_name = "directory"

urlpatterns: list = [
    # booking (issue 16 item 8)
    path("p/<slug:practice_slug>/book/", booking_views.book, name="book"),
    path("booking-requests/", booking_views.requests_list, name="booking-requests"),
    path("booking-requests/<uuid:booking_request_id>/", booking_views.request_detail, name="booking-request"),
    path("booking-requests/<uuid:booking_request_id>/accept/", booking_views.accept, name="booking-accept"),
    path("booking-requests/<uuid:booking_request_id>/decline/", booking_views.decline, name="booking-decline"),
]
