"""`confide db …`: database maintenance.

  confide db optimize
        refresh the query planner's statistics (ANALYZE; on SQLite bounded by
        PRAGMA analysis_limit). Run it from a daily timer, and after a bulk load such as a
        large FHIR import (which runs it itself). On PostgreSQL it uses the owner connection
        (DATABASE_MIGRATE_URL); without one it says so and does nothing (autovacuum analyses).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from confide.core.db import statistics


class Command(BaseCommand):
    help = "Database maintenance: refresh the query planner's statistics."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{optimize}")
        sub.add_parser("optimize", help="ANALYZE every table (bounded on SQLite)")

    def handle(self, *args, action, **options):
        alias = statistics.maintenance_alias()
        if alias is None:
            self.stdout.write("PostgreSQL without DATABASE_MIGRATE_URL: only the tables' owner may ANALYZE; skipped (autovacuum analyses)")
            return
        start = time.perf_counter()
        statistics.analyze(alias)
        self.stdout.write(f"statistics refreshed ({alias}, {(time.perf_counter() - start) * 1000:.0f} ms)")
