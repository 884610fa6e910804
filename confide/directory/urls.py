"""The practice's public face (each URL with its row in core/routes.py)."""

from django.urls import path

from confide.directory import booking_views, views

app_name = "directory"

urlpatterns = [
    # staff
    path("profile/", views.profile, name="profile"),
    path("profile/sensitive/", views.profile_sensitive, name="profile-sensitive"),
    path("profile/publish/", views.profile_publish, name="profile-publish"),
    path("profile/unpublish/", views.profile_unpublish, name="profile-unpublish"),
    path("website/", views.website, name="website"),
    path("website/profiles/<uuid:profile_id>/unpublish/", views.website_unpublish_profile, name="website-unpublish-profile"),
    path("refer/", views.refer, name="refer"),
    # public
    path("p/<slug:practice_slug>/", views.site_home, name="home"),
    path("p/<slug:practice_slug>/theme.css", views.site_theme, name="theme"),
    path("p/<slug:practice_slug>/logo", views.site_logo, name="logo"),
    path("p/<slug:practice_slug>/team/", views.site_team, name="team"),
    path("p/<slug:practice_slug>/team/<uuid:profile_id>/", views.site_practitioner, name="practitioner"),
    path("p/<slug:practice_slug>/team/<uuid:profile_id>/photo", views.site_photo, name="photo"),
    path("p/<slug:practice_slug>/services/", views.site_services, name="services"),
    path("p/<slug:practice_slug>/locations/", views.site_locations, name="locations"),
    path("p/<slug:practice_slug>/referral/decline/", views.referral_decline, name="referral-decline"),
    # booking (issue 16 item 8)
    path("p/<slug:practice_slug>/book/", booking_views.book, name="book"),
    path("booking-requests/", booking_views.requests_list, name="booking-requests"),
    path("booking-requests/<uuid:booking_request_id>/", booking_views.request_detail, name="booking-request"),
    path("booking-requests/<uuid:booking_request_id>/accept/", booking_views.accept, name="booking-accept"),
    path("booking-requests/<uuid:booking_request_id>/decline/", booking_views.decline, name="booking-decline"),
]
