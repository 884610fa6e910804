"""Which chain the audit module itself is working on, for PostgreSQL's row-level security.

The log is under FORCE ROW LEVEL SECURITY (audit migration 0006): the application role reads a
practice's entries only in that practice's context (plus its members' platform-chain entries,
and a signed-in user's own security events), and inserts nothing unless `confide.audit_chain`
names the entry's chain. Only this module's two writers set it, each for its own statements:
`record()` while it appends (an INSERT … RETURNING must also be able to see the row it wrote),
and the checkpoint writer while it reads the hashes of the entries it seals. It is a
transaction-local setting (`set_config(…, true)`), cleared again when the block ends; on an
error the savepoint's rollback restores it. SQLite has no row security: a no-op there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction

SETTING = "confide.audit_chain"


@contextmanager
def chain_scope(chain: str, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [SETTING, chain])
        yield
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, '', true)", [SETTING])
