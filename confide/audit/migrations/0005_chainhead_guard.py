"""The chain head is guarded in the database too: it is never removed, a new one starts at the
beginning, and it only moves forward, to an entry of its own chain.

On PostgreSQL the application role could `DELETE FROM audit_chainhead` (its default grants),
after which every audited action failed; and a head moved back, or its `checkpoint_seq` reset,
hid a truncated tail from the database's own records. The head holds: `seq`/`hash` (the last
entry: they move together, forward only, and only to an entry that exists with that hash, so the
head always names a real entry), `checkpoint_seq` (the last checkpoint scheduled: forward only,
never beyond `seq`) and `checkpoint_at` (its time: never cleared, never earlier). The audit code
keeps all of these monotone itself (confide/audit/checkpoints.py), so the trigger only ever
refuses what the code never does.

PostgreSQL: a row-level BEFORE INSERT OR UPDATE trigger, and statement-level BEFORE DELETE and
BEFORE TRUNCATE triggers (so even a DELETE that matches nothing is refused), for every role the
owner included (only ALTER TABLE … DISABLE TRIGGER, which needs ownership, gets past them).
The trigger function runs with the caller's rights: its look-up of the entry is subject to the
log's row-level security (audit 0006), which shows `record()` the entry it has just written
(confide/audit/scope.py) and the owner every entry.

SQLite: BEFORE DELETE / UPDATE / INSERT triggers with WHEN conditions that RAISE(ABORT). As for
the log (audit 0002), anyone who can write the file can drop them; and a migration that makes
Django rebuild audit_chainhead (an AlterField/AddField there) drops them with the old table and
must create them again (tests/audit/test_triggers.py fails if they are gone).
"""

from django.db import migrations

TABLE = "audit_chainhead"
ZERO = "0" * 64
MESSAGE = "audit chain heads are never removed and only move forward, to an entry of their chain"

POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION audit_guard_chain_head() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
            RAISE EXCEPTION 'audit chain head: % refused on %: {MESSAGE}', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'INSERT' THEN
            IF NEW.seq <> 0 OR NEW.hash <> '{ZERO}' OR NEW.checkpoint_seq <> 0 THEN
                RAISE EXCEPTION 'audit chain head: a new head starts at seq 0'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END IF;
        IF NEW.chain <> OLD.chain
           OR NEW.seq < OLD.seq
           OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash)
           OR (NEW.seq > OLD.seq AND NOT EXISTS (
                   SELECT 1 FROM audit_auditentry e WHERE e.chain = NEW.chain AND e.seq = NEW.seq AND e.hash = NEW.hash))
           OR NEW.checkpoint_seq < OLD.checkpoint_seq
           OR NEW.checkpoint_seq > NEW.seq
           OR (OLD.checkpoint_at IS NOT NULL AND (NEW.checkpoint_at IS NULL OR NEW.checkpoint_at < OLD.checkpoint_at)) THEN
            RAISE EXCEPTION 'audit chain head: UPDATE refused on %: {MESSAGE}', TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    f"CREATE TRIGGER audit_chainhead_forward BEFORE INSERT OR UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION audit_guard_chain_head()",
    f"CREATE TRIGGER audit_chainhead_kept BEFORE DELETE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION audit_guard_chain_head()",
    f"CREATE TRIGGER audit_chainhead_no_truncate BEFORE TRUNCATE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION audit_guard_chain_head()",
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_chainhead_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_chainhead_kept ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_chainhead_forward ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_guard_chain_head()",
]

_SQLITE_MOVED_WRONG = (
    "NEW.chain <> OLD.chain OR NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash) "
    "OR (NEW.seq > OLD.seq AND NOT EXISTS (SELECT 1 FROM audit_auditentry e WHERE e.chain = NEW.chain AND e.seq = NEW.seq AND e.hash = NEW.hash)) "
    "OR NEW.checkpoint_seq < OLD.checkpoint_seq OR NEW.checkpoint_seq > NEW.seq "
    "OR (OLD.checkpoint_at IS NOT NULL AND (NEW.checkpoint_at IS NULL OR NEW.checkpoint_at < OLD.checkpoint_at))"
)
SQLITE_INSTALL = [
    f"CREATE TRIGGER audit_chainhead_kept BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, 'audit chain head: DELETE refused: {MESSAGE}'); END",
    f"CREATE TRIGGER audit_chainhead_forward BEFORE UPDATE ON {TABLE} WHEN {_SQLITE_MOVED_WRONG} "
    f"BEGIN SELECT RAISE(ABORT, 'audit chain head: UPDATE refused: {MESSAGE}'); END",
    f"CREATE TRIGGER audit_chainhead_new BEFORE INSERT ON {TABLE} WHEN NEW.seq <> 0 OR NEW.hash <> '{ZERO}' OR NEW.checkpoint_seq <> 0 "
    "BEGIN SELECT RAISE(ABORT, 'audit chain head: a new head starts at seq 0'); END",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_chainhead_new",
    "DROP TRIGGER IF EXISTS audit_chainhead_forward",
    "DROP TRIGGER IF EXISTS audit_chainhead_kept",
]

STATEMENTS = {"postgresql": (POSTGRES_INSTALL, POSTGRES_REMOVE), "sqlite": (SQLITE_INSTALL, SQLITE_REMOVE)}


def _run(schema_editor, which: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"no chain-head triggers for database vendor {vendor!r}: add them before using it")
    for sql in STATEMENTS[vendor][which]:
        schema_editor.execute(sql, None)  # None: no parameters, so "%" is not a placeholder


def install(apps, schema_editor) -> None:
    _run(schema_editor, 0)


def remove(apps, schema_editor) -> None:
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_chain_genesis")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
