from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "confide.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
