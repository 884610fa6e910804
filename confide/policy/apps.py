from django.apps import AppConfig


class PolicyConfig(AppConfig):
    name = "confide.policy"
    label = "policy"
    verbose_name = "Privacy policy"

    def ready(self) -> None:
        from confide.policy import loader, signals  # noqa: F401  (signals: version 1 of each new practice)

        loader.load_default()  # a broken shipped declaration stops the start, naming its line
        from confide.policy.services import register_dashboard_count

        register_dashboard_count()  # policy versions published but not yet in force
