from django.apps import AppConfig


class RightsConfig(AppConfig):
    name = "confide.rights"
    label = "rights"
    verbose_name = "Rights requests"
