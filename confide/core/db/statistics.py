"""Query-planner statistics: `ANALYZE` after migrations, on demand, and SQLite's `PRAGMA optimize`.

Without statistics a planner guesses. SQLite's guess was the costly one (issue 13): for a
tenant-scoped lookup (`practice_id = ? AND source_key = ?`) it picked the single-column
practice_id index and scanned the whole practice, so one FHIR bundle took 214–233 ms at 10,000
patients instead of 16 ms. The composite indexes that lead with practice_id (records and vault
models) already make the right plan the likelier guess; statistics make it certain:

- after `migrate`, each migrated app's tables are analysed (post_migrate, per app, so a migrate
  of one app does not re-analyse the rest);
- when SQLite opens a connection, `PRAGMA optimize=0x10002`, as SQLite recommends for
  connections that stay open: it re-analyses only tables whose size changed a lot since their
  statistics were taken, under a small `analysis_limit` (SQLite ≥ 3.46 checks every table; an
  older SQLite, which only considers tables this connection has used, does nothing here);
- `confide db optimize` (a cron job or timer, and at the end of `confide fhir import`) runs a full
  bounded `ANALYZE` on SQLite and `ANALYZE` on PostgreSQL (whose autovacuum also analyses; this
  is for a bulk load that should not wait for it).

On PostgreSQL ANALYZE needs the table's owner: it runs on the `owner` connection when
DATABASE_MIGRATE_URL is set, else it is skipped there (docs/operations.md).
"""

from __future__ import annotations

import logging

from django.db import connections

logger = logging.getLogger(__name__)

# Rows SQLite samples per index when analysing (PRAGMA analysis_limit): enough for the planner
# to tell a selective index from an unselective one, and it keeps ANALYZE of a large database in
# milliseconds rather than seconds.
SQLITE_ANALYSIS_LIMIT = 1000


def _quoted_tables(connection, tables) -> list[str]:
    existing = set(connection.introspection.table_names())
    return [connection.ops.quote_name(t) for t in tables if t in existing]


def analyze(using: str = "default", tables=None) -> int:
    """ANALYZE `tables` (all when None) on the connection `using`. Returns the number of
    statements run (0 where the role may not analyse)."""
    connection = connections[using]
    statements: list[str] = []
    if connection.vendor == "sqlite":
        statements.append(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
    targets = [""] if tables is None else _quoted_tables(connection, tables)
    statements += [f"ANALYZE {t}".rstrip() for t in targets]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return len(targets)


def maintenance_alias() -> str | None:
    """The alias that may ANALYZE: SQLite's only connection, PostgreSQL's owner connection."""
    if connections["default"].vendor == "sqlite":
        return "default"
    return "owner" if "owner" in connections.databases else None


def analyze_after_migrate(sender, using: str, **kwargs) -> None:
    """post_migrate receiver: analyse the tables of the app just migrated."""
    tables = [m._meta.db_table for m in sender.get_models() if m._meta.managed and not m._meta.proxy]
    if tables:
        analyze(using, tables)


def optimize_on_open(sender, connection, **kwargs) -> None:
    """connection_created receiver: SQLite's recommended `PRAGMA optimize` for a new connection."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA optimize=0x10002")
