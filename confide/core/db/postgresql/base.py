"""PostgreSQL backend that carries the tenant context into every transaction.

Row-level-security policies on tenant-owned tables compare `practice_id` with the setting
`confide.practice_id`. Before a query runs, this backend makes sure the setting in force on the
connection equals the current context (`confide.core.tenancy`): inside a transaction it is set
with `is_local = true` (SET LOCAL: it dies with the transaction); in autocommit mode, where every
statement is its own transaction, it is set for the session. Either way the check runs before
every statement, so a pooled connection never serves one context's query under another's value.

What the server holds is tracked (session value; transaction-local value, forgotten on commit
and rollback and made unknown by a savepoint rollback), so a statement pays an extra round trip
only when the context changed.
"""

from __future__ import annotations

from django.db.backends.postgresql import base
from psycopg import pq

from confide.core import tenancy

_SET_CONTEXT_SQL = (
    "SELECT set_config('confide.practice_id', %s, %s), set_config('confide.user_id', %s, %s)"
)


_UNKNOWN = ("?", "?")  # never equal to a real context: forces the next statement to set it


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What the server has now: the session-level value (set in autocommit mode, survives
        # transactions) and the transaction-local override (SET LOCAL, gone at commit/rollback).
        self._confide_session: tuple[str, str] | None = None
        self._confide_local: tuple[str, str] | None = None
        self.execute_wrappers.insert(0, self._apply_tenant_context)

    def _apply_tenant_context(self, execute, sql, params, many, context):
        practice_id = tenancy.current_practice_id()
        user_id = tenancy.current_user_id()
        wanted = ("" if practice_id is None else str(practice_id), "" if user_id is None else str(user_id))
        in_transaction = not self.get_autocommit()
        if in_transaction and self.connection.info.transaction_status == pq.TransactionStatus.INERROR:
            # The transaction has failed: only ROLLBACK (TO SAVEPOINT) can run now, and a
            # set_config here would itself fail and hide the original error. Whatever runs
            # after the rollback finds the context marked unknown and sets it then.
            return execute(sql, params, many, context)
        in_force = (self._confide_local or self._confide_session) if in_transaction else self._confide_session
        if in_force != wanted:
            with self.connection.cursor() as cursor:  # the raw psycopg cursor: no recursion
                cursor.execute(_SET_CONTEXT_SQL, (wanted[0], in_transaction, wanted[1], in_transaction))
            if in_transaction:
                self._confide_local = wanted
            else:
                self._confide_session = wanted
        return execute(sql, params, many, context)

    def _commit(self):
        self._confide_local = None
        return super()._commit()

    def _rollback(self):
        self._confide_local = None
        return super()._rollback()

    def _savepoint_rollback(self, sid):
        # Whatever SET LOCAL was in force before the savepoint is unknown from here: re-set.
        # Marked after the rollback, not before: an unknown value would make the wrapper send
        # set_config ahead of ROLLBACK TO SAVEPOINT, which fails in an aborted transaction.
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self._confide_local = _UNKNOWN

    def _set_autocommit(self, autocommit):
        self._confide_local = None
        return super()._set_autocommit(autocommit)

    def _close(self):
        self._confide_session = None
        self._confide_local = None
        return super()._close()
