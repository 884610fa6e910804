from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "confide.retention"
    label = "retention"
    verbose_name = "Retention"
