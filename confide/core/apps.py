from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "confide.core"
    label = "core"
    verbose_name = "Confide core"

    def ready(self) -> None:
        from confide.core import rls  # noqa: F401  (connects the post-migrate RLS installer)
