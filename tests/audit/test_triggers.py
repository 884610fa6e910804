"""AUD2: the database refuses to change or remove audit entries, whatever the application does.

Raw SQL on purpose: the ORM refuses too (AuditEntry.save/delete), but the triggers are the layer
that must hold when code goes around the ORM. On PostgreSQL the application role has UPDATE and
DELETE through the default privileges and is refused by the trigger anyway; the owning role is
refused as well, and TRUNCATE (which the application role lacks) is refused for the owner.
Each refused statement runs in a savepoint so the test's transaction survives it.
"""

from __future__ import annotations

import pytest
from django.db import connection

from confide.audit.chain import record, seal
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.audit.conftest import ON_POSTGRES, owner_connection, refused_sql
from tests.audit.sealing import sealed


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditentry SET outcome = 'denied' WHERE id = %s",
        "UPDATE audit_auditentry SET hash = prev_hash WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ],
)
def test_raw_update_and_delete_are_refused(db, sql):
    entry = sealed(record(AuditEvent.CHART_OPENED, practice_id="11111111-1111-1111-1111-111111111111"))
    assert "audit entries are append-only" in refused_sql(sql, [entry.id])
    stored = AuditEntry.objects.get(id=entry.id)
    assert (stored.outcome, stored.hash) == (entry.outcome, entry.hash)


def test_deleting_every_row_is_refused(db):
    record(AuditEvent.SIGNIN_FAILED)
    assert "append-only" in refused_sql("DELETE FROM audit_auditentry")
    assert AuditEntry.objects.count() == 1


def test_appending_still_works_after_a_refusal(db):
    first = sealed(record(AuditEvent.SIGNIN_FAILED))
    refused_sql("DELETE FROM audit_auditentry")
    assert sealed(record(AuditEvent.SIGNIN_FAILED)).prev_hash == first.hash


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite: the triggers by name")
def test_sqlite_has_both_triggers(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditentry' ORDER BY name")
        assert [row[0] for row in cursor.fetchall()] == ["audit_no_delete", "audit_no_update", "audit_unsealed_insert"]


@pytest.mark.skipif(ON_POSTGRES, reason="transactional test: SQLite pass only (see tests/postgres_setup.py)")
def test_the_migration_is_reversible(transactional_db):
    """Unapply the audit migrations and apply them again, for real; entries written in between
    (without triggers) can be changed, afterwards they cannot. The flush after this test also
    shows the audit table can be emptied between transactional tests (tests/audit/flushable.py)."""
    from django.core.management import call_command

    call_command("migrate", "audit", "0001", verbosity=0)
    entry = record_without_checkpoint_columns()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET outcome = 'x' WHERE id = %s", [entry])
    call_command("migrate", "audit", verbosity=0)
    assert "append-only" in refused_sql("UPDATE audit_auditentry SET outcome = 'y' WHERE id = %s", [entry])
    assert "append-only" in refused_sql("DELETE FROM audit_auditentry WHERE id = %s", [entry])
    record(AuditEvent.SIGNIN_FAILED)  # and the current code appends to it again


def record_without_checkpoint_columns() -> int:
    """An entry written with raw SQL (at 0001 the model's ChainHead columns do not exist yet)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditentry (chain, seq, at, event, actor_kind, actor_id, actor_role, purpose, resource_ids, "
            "categories, fields_changed, outcome, reason, flagged, detail, request_id, user_agent, prev_hash, hash) "
            "VALUES ('migration-test', 1, '2026-01-01 00:00:00', 'accounts:signin:failed', 'anonymous', '', '', '', '[]', '[]', '[]', "
            "'ok', '', 0, '{}', '', '', %s, %s)",
            ["0" * 64, "0" * 64],
        )
        return cursor.lastrowid


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
def test_postgres_application_role_may_not_truncate(db):
    record(AuditEvent.SIGNIN_FAILED)
    assert "permission denied" in refused_sql("TRUNCATE audit_auditentry")


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
def test_postgres_application_role_holds_the_grants_the_trigger_overrides(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(current_user, 'audit_auditentry', 'UPDATE'), "
            "has_table_privilege(current_user, 'audit_auditentry', 'DELETE')"
        )
        assert cursor.fetchone() == (True, True)  # so the refusals above are the trigger's doing


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
@pytest.mark.parametrize(
    "sql",
    ["TRUNCATE audit_auditentry CASCADE", "DELETE FROM audit_auditentry", "UPDATE audit_auditentry SET outcome = outcome"],
)
def test_postgres_the_owner_is_refused_too(django_db_setup, sql):
    """The owning role holds every privilege on the table; the statement-level triggers still refuse,
    even when no row matches. (CASCADE: without it a table referencing the log refuses the TRUNCATE
    before the trigger is reached.) Its own connection, since TRUNCATE needs a lock the test
    transaction must not hold; rolled back whatever happens, since the database is shared."""
    import psycopg

    with owner_connection() as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"):
        with conn.transaction(force_rollback=True):
            conn.execute(sql)


# --- The chain head: never removed, only moved forward to an entry of its chain ---------------------
def _head(chain: str):
    from confide.audit.models import ChainHead

    return ChainHead.objects.filter(chain=chain).values_list("seq", "hash", "checkpoint_seq", "checkpoint_at").get()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit_chainhead WHERE chain = %s",
        "UPDATE audit_chainhead SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE chain = %s",
        "UPDATE audit_chainhead SET seq = seq - 1 WHERE chain = %s",
        "UPDATE audit_chainhead SET seq = seq + 1 WHERE chain = %s",  # to an entry that does not exist
        "UPDATE audit_chainhead SET hash = prev_hash_of_nothing WHERE chain = %s".replace("prev_hash_of_nothing", "'" + "f" * 64 + "'"),
        "UPDATE audit_chainhead SET checkpoint_seq = 0 WHERE chain = %s",
        "UPDATE audit_chainhead SET checkpoint_seq = seq + 5 WHERE chain = %s",
        "UPDATE audit_chainhead SET checkpoint_at = NULL WHERE chain = %s",
        "UPDATE audit_chainhead SET chain = 'elsewhere' WHERE chain = %s",
    ],
)
def test_aud2_the_chain_head_cannot_be_removed_reset_or_moved_off_its_entries(db, sql, settings):
    """The head on PostgreSQL could be deleted by the application role, after which every audited
    action failed; reset, it hid a truncated tail. Now the database refuses both, for every role."""
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 2
    chain = "22222222-2222-2222-2222-222222222222"
    for _ in range(3):
        record(AuditEvent.CHART_OPENED, practice_id=chain)
    seal(chain)
    before = _head(chain)
    assert before[2] == 2
    assert "audit chain head" in refused_sql(sql, [chain])
    assert _head(chain) == before
    assert sealed(record(AuditEvent.CHART_OPENED, practice_id=chain)).seq == 4  # and the application carries on


def test_a_new_chain_head_starts_at_the_beginning(db):
    assert "audit chain head" in refused_sql(
        "INSERT INTO audit_chainhead (chain, seq, hash, checkpoint_seq) VALUES ('forged', 7, %s, 0)", ["a" * 64]
    )


def test_deleting_every_chain_head_is_refused(db):
    sealed(record(AuditEvent.SIGNIN_FAILED))
    assert "audit chain head" in refused_sql("DELETE FROM audit_chainhead")


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
@pytest.mark.parametrize(
    "sql",
    ["TRUNCATE audit_chainhead CASCADE", "DELETE FROM audit_chainhead", "UPDATE audit_chainhead SET seq = 5 WHERE chain = 'owner-test'"],
)
def test_postgres_the_owner_is_refused_the_chain_head_too(django_db_setup, sql):
    """Rolled back whatever happens (the database is shared); a head of its own to move."""
    import psycopg

    with owner_connection() as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="audit chain head"):
        with conn.transaction(force_rollback=True):
            conn.execute("INSERT INTO audit_chainhead (chain, seq, hash, checkpoint_seq) VALUES ('owner-test', 0, %s, 0)", ["0" * 64])
            conn.execute(sql)
