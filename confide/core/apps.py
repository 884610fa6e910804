from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "confide.core"
    label = "core"
    verbose_name = "Confide core"

    def ready(self) -> None:
        from confide.core import checks, rls  # noqa: F401  (the deploy checks; the post-migrate RLS installer)
        from django.db.backends.signals import connection_created

        from confide.core.db import routers  # noqa: F401  (connects the migrating-database signals)
        from confide.core.db.sqlite import restrict_database_files

        connection_created.connect(restrict_database_files, dispatch_uid="confide-sqlite-file-modes")
