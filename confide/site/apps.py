from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "confide.site"
    label = "confide_site"
    verbose_name = "Confide entry points"
