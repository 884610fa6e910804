"""The consent ledger is append-only in the database too (CON2; the audit log's pattern,
confide/audit/migrations/0002_append_only_triggers.py).

consent_consentevent: every UPDATE, DELETE and (PostgreSQL) TRUNCATE is refused, by every role,
the owner included. PostgreSQL: statement-level triggers, so even a statement matching no row
is refused. SQLite: row-level BEFORE UPDATE / BEFORE DELETE triggers that RAISE(ABORT).

consent_consentevidence: DELETE and TRUNCATE are refused, and so is an UPDATE of anything but
the two ciphertext columns (and updated_at): key rotation re-seals a patient's data in place
(confide/vault/rotation.py), and that must keep working; nothing else may change a row.
PostgreSQL: a row-level BEFORE UPDATE trigger compares OLD and NEW; SQLite: BEFORE UPDATE OF
the fixed columns.

ConsentState (the projection) is a cache rebuilt from the events and has no triggers.

Beware, SQLite: a later migration that rebuilds one of these tables drops its triggers with
the old table and must create them again; tests/consent/test_ledger_append_only.py fails if
they are gone. The SQL is written out here so this migration stays what it was when applied.
"""

from django.db import migrations

EVENTS = "consent_consentevent"
EVIDENCE = "consent_consentevidence"
EVENTS_MESSAGE = "consent events are append-only"
EVIDENCE_MESSAGE = "consent evidence is append-only"
EVIDENCE_FIXED = ("id", "created_at", "practice_id", "event_id", "patient_id")

POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{EVENTS_MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION consent_evidence_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN  -- (nested: NEW and OLD exist only for a row-level UPDATE)
            IF {" AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in EVIDENCE_FIXED)} THEN
                RETURN NEW;  -- only the ciphertext (and updated_at) changed: a re-seal
            END IF;
        END IF;
        RAISE EXCEPTION '{EVIDENCE_MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"CREATE TRIGGER consent_append_only BEFORE UPDATE OR DELETE ON {EVENTS} FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change()",
    f"CREATE TRIGGER consent_no_truncate BEFORE TRUNCATE ON {EVENTS} FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_change()",
    f"CREATE TRIGGER consent_evidence_fixed BEFORE UPDATE ON {EVIDENCE} FOR EACH ROW EXECUTE FUNCTION consent_evidence_refuse()",
    f"CREATE TRIGGER consent_evidence_no_delete BEFORE DELETE ON {EVIDENCE} FOR EACH STATEMENT EXECUTE FUNCTION consent_evidence_refuse()",
    f"CREATE TRIGGER consent_evidence_no_truncate BEFORE TRUNCATE ON {EVIDENCE} FOR EACH STATEMENT EXECUTE FUNCTION consent_evidence_refuse()",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS consent_evidence_no_truncate ON {EVIDENCE}",
    f"DROP TRIGGER IF EXISTS consent_evidence_no_delete ON {EVIDENCE}",
    f"DROP TRIGGER IF EXISTS consent_evidence_fixed ON {EVIDENCE}",
    f"DROP TRIGGER IF EXISTS consent_no_truncate ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS consent_append_only ON {EVENTS}",
    "DROP FUNCTION IF EXISTS consent_evidence_refuse()",
    "DROP FUNCTION IF EXISTS consent_refuse_change()",
]

SQLITE_INSTALL = [
    f"CREATE TRIGGER consent_no_update BEFORE UPDATE ON {EVENTS} BEGIN SELECT RAISE(ABORT, '{EVENTS_MESSAGE}'); END",
    f"CREATE TRIGGER consent_no_delete BEFORE DELETE ON {EVENTS} BEGIN SELECT RAISE(ABORT, '{EVENTS_MESSAGE}'); END",
    f"CREATE TRIGGER consent_evidence_fixed BEFORE UPDATE OF {', '.join(EVIDENCE_FIXED)} ON {EVIDENCE} "
    f"BEGIN SELECT RAISE(ABORT, '{EVIDENCE_MESSAGE}'); END",
    f"CREATE TRIGGER consent_evidence_no_delete BEFORE DELETE ON {EVIDENCE} BEGIN SELECT RAISE(ABORT, '{EVIDENCE_MESSAGE}'); END",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS consent_evidence_no_delete",
    "DROP TRIGGER IF EXISTS consent_evidence_fixed",
    "DROP TRIGGER IF EXISTS consent_no_delete",
    "DROP TRIGGER IF EXISTS consent_no_update",
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
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
