from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "confide.core"
    label = "core"
    verbose_name = "Confide core"

    def ready(self) -> None:
        from confide.core import rls  # noqa: F401  (connects the post-migrate RLS installer)
        from confide.core.db import routers  # noqa: F401  (connects the migrating-database signals)
