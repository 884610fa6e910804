from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "confide.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        # Messaging is below scheduling and never imports it: the reminders' C/R answers are
        # registered with its inbound texts here (after STOP/START/HELP and the emergency rule).
        from confide.accounts.staff import membership_deactivated
        from confide.messaging.inbound import register_reply_handler
        from confide.scheduling import google
        from confide.scheduling.reminders import handle_reply

        register_reply_handler(handle_reply)
        # A deactivated staff member's Google Calendar link is revoked (SCH3); accounts sends
        # the signal and knows nothing of scheduling (layers).
        membership_deactivated.connect(google.on_membership_deactivated, dispatch_uid="scheduling.google.deactivated")
