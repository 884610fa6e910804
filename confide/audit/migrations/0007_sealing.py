"""Sequencing apart from integration: entries are inserted unsealed, and sealed once.

`record()` now inserts an entry with its `content_hash` and no `seq`, `prev_hash` or `hash`
(NULL: unsealed), taking no lock; the sealer (confide/audit/chain.py `seal`) later gives it the
chain's next `seq` and its chain hash, in one UPDATE. Entries sealed before this migration keep
their values and their hash formula (content_hash NULL).

The append-only guards change accordingly, for every role the owner included (only ALTER TABLE
… DISABLE TRIGGER, which needs ownership, gets past them):

* INSERT: refused unless the entry is unsealed and carries a content hash (64 hex digits);
* UPDATE: refused unless it is the one transition unsealed → sealed: the old row has no `seq`
  and has a content hash, the new row has `seq`, `prev_hash` and `hash`, and every other column
  is unchanged. PostgreSQL also refuses, statement-level (so even when no row matches), an
  UPDATE outside the audit module's chain scope (`confide.audit_chain`, confide/audit/scope.py);
* DELETE and TRUNCATE: refused as before (audit 0002).

Row-level security (audit 0006) gains `audit_seal`: UPDATE of an unsealed entry of the chain in
scope only, the new row still of that chain; and audit_unsealed_chains() (SECURITY DEFINER, the
owner's rights) tells the sealer, running as the application role, which chains have unsealed
entries: their names only, no entry.

SQLite: Django rebuilds audit_auditentry for the AlterFields below (new table, copy, drop,
rename), which drops the triggers of audit 0002 with the old table; they are created again
here in their new form. The rename also fails while another table's trigger names
audit_auditentry (audit 0005's audit_chainhead_forward), so that one is dropped for the rebuild
and created again, as 0005 wrote it, after it. The first operation's reverse puts 0002's form
back when migrating back.

The SQL is written out here rather than imported so this migration stays what it was when applied.
"""

import importlib

from django.db import migrations, models

_0005 = importlib.import_module("confide.audit.migrations.0005_chainhead_guard")
SQLITE_HEAD_FORWARD = next(sql for sql in _0005.SQLITE_INSTALL if "audit_chainhead_forward" in sql)

TABLE = "audit_auditentry"
MESSAGE = "audit entries are append-only"
# Every column but the three the seal writes: what an UPDATE must leave as it was (SQLite lists
# them; PostgreSQL compares the whole row minus those three, so a later column is covered too).
KEPT = (
    "id", "chain", "at", "event", "practice_id", "actor_kind", "actor_id", "actor_role", "purpose", "subject_id",
    "resource_ids", "categories", "fields_changed", "outcome", "reason", "flagged", "detail", "request_id",
    "ip_address", "user_agent", "content_hash",
)  # fmt: skip
SCOPE = "NULLIF(current_setting('confide.audit_chain', true), '')"

POSTGRES_INSTALL = [
    "DROP TRIGGER IF EXISTS audit_append_only ON audit_auditentry",
    f"""
    CREATE OR REPLACE FUNCTION audit_refuse_unscoped_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR {SCOPE} IS NULL THEN
            RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION audit_seal_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.content_hash IS NULL OR NEW.content_hash !~ '^[0-9a-f]{{64}}$'
               OR NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
                RAISE EXCEPTION '{MESSAGE}: an entry is inserted unsealed, with its content hash: INSERT refused on %', TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END IF;
        IF OLD.seq IS NOT NULL OR OLD.content_hash IS NULL
           OR NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL
           OR to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash' IS DISTINCT FROM to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash' THEN
            RAISE EXCEPTION '{MESSAGE}: only sealing an unsealed entry is allowed: UPDATE refused on %', TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    # The name of audit 0002's trigger, so what disables "the append-only trigger" still does.
    f"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_unscoped_update()",
    f"CREATE TRIGGER audit_seal_once BEFORE INSERT OR UPDATE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION audit_seal_once()",
    f"CREATE POLICY audit_seal ON {TABLE} FOR UPDATE USING (chain = {SCOPE} AND seq IS NULL) WITH CHECK (chain = {SCOPE})",
    # The sealer runs as the application role, which reads no chain outside its scope: this
    # tells it which chains wait (their names only), reading as the owner (the verifier policy).
    f"""
    CREATE OR REPLACE FUNCTION audit_unsealed_chains() RETURNS TABLE (chain varchar) LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        SELECT DISTINCT e.chain FROM {TABLE} e WHERE e.seq IS NULL
    $$
    """,
]
POSTGRES_REMOVE = [
    "DROP FUNCTION IF EXISTS audit_unsealed_chains()",
    f"DROP POLICY IF EXISTS audit_seal ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_seal_once ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_append_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_seal_once()",
    "DROP FUNCTION IF EXISTS audit_refuse_unscoped_update()",
    # audit 0002's form (its function audit_refuse_change is still there)
    f"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
]

_UNCHANGED = " AND ".join(f"NEW.{name} IS OLD.{name}" for name in KEPT)
SQLITE_INSTALL = [
    SQLITE_HEAD_FORWARD,
    "DROP TRIGGER IF EXISTS audit_no_update",
    "DROP TRIGGER IF EXISTS audit_no_delete",
    f"CREATE TRIGGER audit_no_update BEFORE UPDATE ON {TABLE} WHEN NOT (OLD.seq IS NULL AND OLD.content_hash IS NOT NULL "
    f"AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL AND {_UNCHANGED}) "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: only sealing an unsealed entry is allowed'); END",
    f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER audit_unsealed_insert BEFORE INSERT ON {TABLE} WHEN NEW.content_hash IS NULL "
    "OR length(NEW.content_hash) <> 64 OR NEW.content_hash GLOB '*[^0-9a-f]*' "
    "OR NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: an entry is inserted unsealed, with its content hash'); END",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_chainhead_forward",  # for Django's rebuild; restore_0002 puts it back
    "DROP TRIGGER IF EXISTS audit_unsealed_insert",
    "DROP TRIGGER IF EXISTS audit_no_delete",
    "DROP TRIGGER IF EXISTS audit_no_update",
]
# audit 0002's form, put back when migrating back past this migration (after Django's rebuild).
SQLITE_0002 = [
    f"CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]


def _run(schema_editor, statements: dict) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(f"no append-only triggers for database vendor {vendor!r}: add them before using it")
    for sql in statements[vendor]:
        schema_editor.execute(sql, None)  # None: no parameters, so "%" is not a placeholder


def install(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": POSTGRES_INSTALL, "sqlite": SQLITE_INSTALL})


def remove(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": POSTGRES_REMOVE, "sqlite": SQLITE_REMOVE})


def drop_head_guard(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_chainhead_forward", None)


def restore_0002(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for sql in [*SQLITE_0002, SQLITE_HEAD_FORWARD]:
            schema_editor.execute(sql, None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_row_level_security")]

    operations = [
        migrations.RunPython(drop_head_guard, restore_0002, elidable=False),
        migrations.AlterModelOptions(
            name="auditentry",
            options={"ordering": ["chain", models.OrderBy(models.F("seq"), nulls_last=True), "id"]},
        ),
        migrations.AddField(model_name="auditentry", name="content_hash", field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AlterField(model_name="auditentry", name="hash", field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AlterField(model_name="auditentry", name="prev_hash", field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AlterField(model_name="auditentry", name="seq", field=models.BigIntegerField(blank=True, null=True)),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(condition=models.Q(("seq__isnull", True)), fields=["chain", "id"], name="audit_unsealed"),
        ),
        migrations.RunPython(install, remove, elidable=False),
    ]
