"""Row-level security for tenant-owned tables on PostgreSQL (ARCHITECTURE rule 4).

After every `migrate`, each table of a `TenantModel` subclass is given ENABLE and FORCE ROW
LEVEL SECURITY (FORCE: the owning role is bound too) and one policy, `confide_tenant`, that
admits a row only when its `practice_id` equals the transaction's `confide.practice_id`.
`current_setting(..., true)` is NULL or '' when the setting is absent, so a query made without
a context matches no row at all. A model's `rls_extra_condition` (Membership: the user's own
rows) gets a second policy, `confide_tenant_read`, for SELECT only: it widens what may be read,
never what may be inserted, changed or deleted. Installing from post_migrate rather than
hand-written migrations means a new tenant model cannot be forgotten;
`tests/security/test_rls.py` checks every table anyway. SQLite has no row security: there the managers are the only layer.
"""

from __future__ import annotations

from django.apps import AppConfig, apps
from django.db import connections, transaction
from django.db.models.signals import post_migrate
from django.dispatch import receiver

POLICY_NAME = "confide_tenant"
READ_POLICY_NAME = "confide_tenant_read"
PRACTICE_MATCH = "practice_id = NULLIF(current_setting('confide.practice_id', true), '')::uuid"


def tenant_models():
    from confide.core.models import TenantModel

    return [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.proxy]


def install_policy(connection, model) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        cursor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        cursor.execute(f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}")
        cursor.execute(f"DROP POLICY IF EXISTS {READ_POLICY_NAME} ON {table}")
        cursor.execute(
            f"CREATE POLICY {POLICY_NAME} ON {table} FOR ALL USING ({PRACTICE_MATCH}) WITH CHECK ({PRACTICE_MATCH})"
        )
        if model.rls_extra_condition:
            # Permissive policies are OR-ed per command: this one adds rows to SELECT only.
            cursor.execute(
                f"CREATE POLICY {READ_POLICY_NAME} ON {table} FOR SELECT USING ({model.rls_extra_condition})"
            )


@receiver(post_migrate)
def install_tenant_policies(sender: AppConfig, using: str, **kwargs) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    for model in sender.get_models():
        if model in tenant_models():
            install_policy(connection, model)
