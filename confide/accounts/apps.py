from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "confide.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from confide.accounts import signals  # noqa: F401
