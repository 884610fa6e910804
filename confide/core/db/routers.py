"""Queries a third-party migration makes without `.using()` go to the database being migrated.

django-tasks-db's data migration 0016 (`update_status`) writes with `DBTaskResult.objects` and
no `.using(schema_editor.connection.alias)`. Migrating as the owning role (`migrate --database
owner`, which is how PostgreSQL is migrated here) would send that UPDATE to `default`, the
application role's connection, which then waits for the lock the owner's migration transaction
holds on the same table: a deadlock inside one process. While `migrate` runs (between its
pre_migrate and post_migrate signals) this router points reads and writes with no explicit
database at the alias being migrated. At every other time it has no opinion.
"""

from __future__ import annotations

from django.db.models.signals import post_migrate, pre_migrate
from django.dispatch import receiver

_migrating: list[str] = []


@receiver(pre_migrate, dispatch_uid="confide-router-migrating")
def _start(sender, using: str, **kwargs) -> None:
    if not _migrating or _migrating[-1] != using:
        _migrating.append(using)


@receiver(post_migrate, dispatch_uid="confide-router-migrated")
def _end(sender, using: str, **kwargs) -> None:
    while using in _migrating:
        _migrating.remove(using)


class MigratingDatabaseRouter:
    def db_for_read(self, model, **hints):
        return _migrating[-1] if _migrating else None

    def db_for_write(self, model, **hints):
        return _migrating[-1] if _migrating else None
