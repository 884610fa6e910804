"""The child process of a concurrency scenario (see harness.py).

    python -m tests.concurrency.child MODULE:FUNCTION   < params.json   → one JSON line
    python -m tests.concurrency.child --migrate                          (the SQLite template)
"""

from __future__ import annotations

import importlib
import json
import sys


def main() -> None:
    import django

    django.setup()
    # The child is a plain process: Django's test-mode niceties (the locmem e-mail outbox, the
    # ALLOWED_HOSTS 'testserver') come from the test environment set up here.
    from django.test.utils import setup_test_environment

    setup_test_environment()
    if sys.argv[1] == "--migrate":
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", interactive=False, verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        return
    module_name, _, function_name = sys.argv[1].partition(":")
    scenario = getattr(importlib.import_module(module_name), function_name)
    params = json.loads(sys.stdin.read() or "{}")
    result = scenario(params)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
