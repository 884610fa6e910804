from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "confide.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        # A deactivated staff member's Google Calendar link is revoked (SCH3); accounts sends
        # the signal and knows nothing of scheduling (layers).
        from confide.accounts.staff import membership_deactivated
        from confide.scheduling import google

        membership_deactivated.connect(google.on_membership_deactivated, dispatch_uid="scheduling.google.deactivated")
