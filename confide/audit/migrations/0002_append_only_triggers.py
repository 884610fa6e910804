"""The audit log is append-only in the database too (ARCHITECTURE rule 3).

PostgreSQL: one plpgsql function and two statement-level triggers on audit_auditentry, BEFORE
UPDATE OR DELETE and BEFORE TRUNCATE, that raise. They bind every role, the owner included
(only ALTER TABLE … DISABLE TRIGGER, which needs ownership, gets past them); the application
role's UPDATE/DELETE grants from the default privileges are refused by them. Statement-level,
so even an UPDATE or DELETE that matches no row is refused.

SQLite: row-level BEFORE UPDATE and BEFORE DELETE triggers that RAISE(ABORT). SQLite has no
TRUNCATE (its "truncate optimisation" of an unqualified DELETE is off when a DELETE trigger
exists). SQLite has no roles either: anyone who can write the file can drop a trigger, so there
the triggers stop the application and mistakes, and the signed checkpoints outside the database
are what detects a deliberate rewrite.

Beware, SQLite: a later migration that makes Django rebuild audit_auditentry (most AlterField /
AddField on SQLite: new table, copy, drop, rename) drops these triggers with the old table and
must create them again. tests/audit/test_triggers.py fails if they are gone.

The SQL is written out here rather than imported so this migration stays what it was when applied.
"""

from django.db import migrations

TABLE = "audit_auditentry"
MESSAGE = "audit entries are append-only"

POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    f"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_append_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]

SQLITE_INSTALL = [
    f"CREATE TRIGGER audit_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_no_delete",
    "DROP TRIGGER IF EXISTS audit_no_update",
]

STATEMENTS = {
    "postgresql": (POSTGRES_INSTALL, POSTGRES_REMOVE),
    "sqlite": (SQLITE_INSTALL, SQLITE_REMOVE),
}


def _run(schema_editor, which: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"no append-only triggers for database vendor {vendor!r}: add them before using it")
    for sql in STATEMENTS[vendor][which]:
        schema_editor.execute(sql, None)  # None: no parameters, so "%" is not a placeholder


def install(apps, schema_editor) -> None:
    _run(schema_editor, 0)


def remove(apps, schema_editor) -> None:
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
