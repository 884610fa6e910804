from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "confide.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self):
        # Messaging is below scheduling and never imports it: the reminders' C/R answers are
        # registered with its inbound texts here (after STOP/START/HELP and the emergency rule).
        from confide.messaging.inbound import register_reply_handler
        from confide.scheduling.reminders import handle_reply

        register_reply_handler(handle_reply)
