"""The audit log under row-level security on PostgreSQL, like every tenant table (ACC4, AUD2).

Before, the application role read every practice's entries whenever no tenant setting was in
force (a raw query, a job, a bug). Now audit_auditentry has ENABLE and FORCE ROW LEVEL SECURITY
and these policies (permissive ones are OR-ed per command):

* `audit_read` (SELECT, every role): what the application reads today, and no more —
  - a practice's chain in that practice's context (`confide.practice_id`): the viewer, the
    chart's privacy tab, the security-events page;
  - platform-chain entries (no practice: sign-ins, MFA) by or about a member of the practice in
    context: the viewer's and the security-events page's scope (confide/audit/reports.py). The
    members come from accounts_membership, itself under row security in the same context;
  - a signed-in user's own security events (accounts:, core:, vault: events by or about
    `confide.user_id`), on any chain: their account page;
  - the chain the audit module's writer is working on (`confide.audit_chain`,
    confide/audit/scope.py): `record()`'s INSERT … RETURNING must see the row it wrote, and the
    checkpoint writer reads the hashes of the entries it seals.
  An anonymous visitor's failed sign-in is readable by no context at all: only the verifier
  reads it.
* `audit_append` (INSERT): only an entry of the chain named by `confide.audit_chain`, which only
  the audit module's writers set. UPDATE and DELETE have no policy (and the triggers of audit
  0002 refuse them anyway).
* `audit_verifier` (SELECT, the table's owner only): every row. `confide audit verify` reads as
  the owning role (DATABASE_MIGRATE_URL); FORCE binds the owner too, so without this policy it
  would see nothing. A BYPASSRLS role may verify instead (docs/operations.md).

The chain heads (audit_chainhead) stay readable: they hold a count and a hash per chain, no id of
a person; their writes are guarded by the triggers of audit 0005.

This names accounts_membership, a table of a higher layer, as confide/audit/reports.py does in
code: the scope "a practice's members' platform entries" is the accounts' notion of membership.
SQLite has no row security: there the reports' query scope is the only layer.
"""

from django.db import migrations

TABLE = "audit_auditentry"
PRACTICE = "NULLIF(current_setting('confide.practice_id', true), '')"
USER = "NULLIF(current_setting('confide.user_id', true), '')"
WRITING = "chain = NULLIF(current_setting('confide.audit_chain', true), '')"
MEMBERS = f"SELECT m.user_id::text FROM accounts_membership m WHERE m.practice_id = {PRACTICE}::uuid"
READ = f"""
    {WRITING}
    OR chain = {PRACTICE}
    OR (chain = 'platform' AND {PRACTICE} IS NOT NULL AND (
            (actor_kind = 'user' AND actor_id IN ({MEMBERS})) OR (detail ->> 'user_id') IN ({MEMBERS})))
    OR ({USER} IS NOT NULL
        AND split_part(event, ':', 1) IN ('accounts', 'core', 'vault')
        AND ((actor_kind = 'user' AND actor_id = {USER}) OR (detail ->> 'user_id') = {USER}))
"""

INSTALL = [
    f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY",
    f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY audit_read ON {TABLE} FOR SELECT USING ({READ})",
    f"CREATE POLICY audit_append ON {TABLE} FOR INSERT WITH CHECK ({WRITING})",
    f"""
    DO $$
    BEGIN
        EXECUTE format('CREATE POLICY audit_verifier ON {TABLE} FOR SELECT TO %I USING (true)',
                       (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = '{TABLE}'::regclass));
    END
    $$
    """,
]
REMOVE = [
    f"DROP POLICY IF EXISTS audit_verifier ON {TABLE}",
    f"DROP POLICY IF EXISTS audit_append ON {TABLE}",
    f"DROP POLICY IF EXISTS audit_read ON {TABLE}",
    f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY",
    f"ALTER TABLE {TABLE} DISABLE ROW LEVEL SECURITY",
]


def _run(schema_editor, statements: list[str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: no row security
    for sql in statements:
        schema_editor.execute(sql, None)


def install(apps, schema_editor) -> None:
    _run(schema_editor, INSTALL)


def remove(apps, schema_editor) -> None:
    _run(schema_editor, REMOVE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_chainhead_guard"), ("accounts", "0001_initial")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
