from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "confide.core"
    label = "core"
    verbose_name = "Confide core"

    def ready(self) -> None:
        from confide.core import checks, rls  # noqa: F401  (the deploy checks; the post-migrate RLS installer)
        from django.db.backends.signals import connection_created

        from confide.core.db import routers  # noqa: F401  (connects the migrating-database signals)
        from django.db.models.signals import post_migrate

        from confide.core.db import statistics
        from confide.core.db.sqlite import restrict_database_files

        connection_created.connect(restrict_database_files, dispatch_uid="confide-sqlite-file-modes")
        # Query-planner statistics after each app's migrations and as SQLite opens a connection
        # (confide/core/db/statistics.py: why a tenant-scoped lookup needs them).
        post_migrate.connect(statistics.analyze_after_migrate, dispatch_uid="confide-analyze-after-migrate")
        connection_created.connect(statistics.optimize_on_open, dispatch_uid="confide-sqlite-optimize-on-open")
