from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "confide.messaging"
    label = "messaging"
    verbose_name = "Messaging"
