from django.urls import path

from confide.consent import views

app_name = "consent"
urlpatterns = [
    path("p/<slug:practice_slug>/privacy/choices/", views.choices, name="choices"),
    path("p/<slug:practice_slug>/privacy/do-not-sell/", views.do_not_sell, name="do-not-sell"),
    path("p/<slug:practice_slug>/privacy/limit-sensitive/", views.limit_sensitive, name="limit-sensitive"),
    path("p/<slug:practice_slug>/a/collect", views.collect, name="collect"),
]
