"""Published policy versions are immutable in the database too (POL2/POL3: a notice patients
were shown, and the declaration enforced while it was in force, must stay what it was; the model
already refuses save() of an existing row and delete(), but a raw UPDATE or a bulk .update()
did not). The audit log's pattern (confide/audit/migrations/0002_append_only_triggers.py):

policy_policyversion: every UPDATE, DELETE and (PostgreSQL) TRUNCATE is refused, by every role,
the owner included. PostgreSQL: statement-level triggers, so even a statement matching no row is
refused. SQLite: BEFORE UPDATE / BEFORE DELETE triggers that RAISE(ABORT).

Beware, SQLite: a later migration that rebuilds this table drops its triggers with the old table
and must create them again; tests/policy/test_versions_immutable.py fails if they are gone. The
SQL is written out here so this migration stays what it was when applied.
"""

from django.db import migrations

TABLE = "policy_policyversion"
MESSAGE = "policy versions are immutable"

POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION policy_version_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"CREATE TRIGGER policy_version_immutable BEFORE UPDATE OR DELETE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION policy_version_refuse_change()",
    f"CREATE TRIGGER policy_version_no_truncate BEFORE TRUNCATE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION policy_version_refuse_change()",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS policy_version_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS policy_version_immutable ON {TABLE}",
    "DROP FUNCTION IF EXISTS policy_version_refuse_change()",
]

SQLITE_INSTALL = [
    f"CREATE TRIGGER policy_version_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER policy_version_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS policy_version_no_delete",
    "DROP TRIGGER IF EXISTS policy_version_no_update",
]

STATEMENTS = {
    "postgresql": (POSTGRES_INSTALL, POSTGRES_REMOVE),
    "sqlite": (SQLITE_INSTALL, SQLITE_REMOVE),
}


def _run(schema_editor, which: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"no immutability triggers for database vendor {vendor!r}: add them before using it")
    for sql in STATEMENTS[vendor][which]:
        schema_editor.execute(sql, None)  # None: no parameters, so "%" is not a placeholder


def install(apps, schema_editor) -> None:
    _run(schema_editor, 0)


def remove(apps, schema_editor) -> None:
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("policy", "0002_notice_acknowledgement")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
