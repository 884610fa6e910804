"""Letting the test runner's flush empty the append-only tables on SQLite — and nothing else.

Transactional tests (`transactional_db`, `live_server`: the browser tests) are reset by Django's
`flush`, which on SQLite is `DELETE FROM <table>` for every table, and the append-only triggers
refuse that for audit_auditentry once a test has written an entry (a browser sign-in does), and
for the consent ledger's tables once a test has recorded a choice (the cookie-banner test does).

The triggers stay exactly as in production, with no bypass in the schema. Instead, while Django's
`TransactionTestCase._fixture_teardown` runs (the between-tests flush, and only it), the flush
SQL for a database that holds one of APPEND_ONLY_TABLES is wrapped: drop those tables' triggers
(read from sqlite_master), the DELETEs, then create the same triggers again from their stored SQL. Django
runs the flush statements in one atomic block, and SQLite DDL is transactional, so the triggers
are never missing outside that block and a failed flush leaves them in place. A `flush` or a
DELETE issued by a test itself is still refused. PostgreSQL's flush (TRUNCATE) is not wrapped:
transactional tests do not run there (tests/postgres_setup.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.sqlite3.base import DatabaseWrapper  # (importing .operations first is circular)
from django.test.testcases import TransactionTestCase

DatabaseOperations = DatabaseWrapper.ops_class

AUDIT_TABLE = "audit_auditentry"
# Every table an append-only migration guards with triggers (audit 0002 and 0005, consent 0002, policy 0003).
APPEND_ONLY_TABLES = (AUDIT_TABLE, "audit_chainhead", "consent_consentevent", "consent_consentevidence", "policy_policyversion")
_state = threading.local()
_installed = 0  # re-entrant, should a second conftest ask for it too


def _sql_flush_keeping_triggers(original):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        guarded = [table for table in APPEND_ONLY_TABLES if table in tables]
        if not getattr(_state, "active", False) or not guarded:
            return sql
        triggers = []
        with self.connection.cursor() as cursor:
            for table in guarded:
                cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s ORDER BY name", [table])
                triggers += cursor.fetchall()
        drop = [f"DROP TRIGGER {self.quote_name(name)};" for name, _ in triggers]
        return [*drop, *sql, *(f"{definition};" for _, definition in triggers)]

    return sql_flush


def _fixture_teardown_flushing_audit(original):
    def _fixture_teardown(self):
        _state.active = True
        try:
            return original(self)
        finally:
            _state.active = False

    return _fixture_teardown


@contextmanager
def audit_log_flushable() -> Iterator[None]:
    """Active for the whole test session (tests/conftest.py). (The name is older than the
    consent ledger: it covers every table in APPEND_ONLY_TABLES.)"""
    global _installed
    original_flush, original_teardown = DatabaseOperations.sql_flush, TransactionTestCase._fixture_teardown
    if not _installed:
        DatabaseOperations.sql_flush = _sql_flush_keeping_triggers(original_flush)
        TransactionTestCase._fixture_teardown = _fixture_teardown_flushing_audit(original_teardown)
    _installed += 1
    try:
        yield
    finally:
        _installed -= 1
        if not _installed:
            DatabaseOperations.sql_flush, TransactionTestCase._fixture_teardown = original_flush, original_teardown
