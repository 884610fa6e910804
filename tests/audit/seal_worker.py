"""Seal audit chains in a process of its own, and fail in the middle on purpose.

    python -m tests.audit.seal_worker --chain UUID [--chain …] [--batch N] [--crash hang|drop]

Run by tests/audit/test_seal_crash.py with DJANGO_SETTINGS_MODULE=tests.settings (see
append_worker.py for the database it uses). `--crash hang`: after the first batch's UPDATEs
(before the head moves and the transaction commits) print "WROTE" and sleep, to be killed with
SIGKILL. `--crash drop`: after those UPDATEs close the database connection under Django's
feet (the server sees the client vanish mid-transaction), report the error, then seal again on
a fresh connection. Prints one JSON line: {"sealed": n, "errors": [...]}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", action="append", required=True)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--crash", choices=["hang", "drop"], default="")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from confide.audit import chain as chains

    errors: list[str] = []
    original = chains._write_seals
    crashed = []

    def crashing(sealed, using):
        original(sealed, using)
        if crashed:
            return
        crashed.append(len(sealed))
        if args.crash == "hang":
            print("WROTE", len(sealed), flush=True)
            time.sleep(600)
        else:
            connection.connection.close()  # the wire goes: the server rolls the transaction back

    if args.crash:
        chains._write_seals = crashing
    sealed = 0
    for chain in args.chain:
        try:
            sealed += chains.seal(chain, batch=args.batch)
        except Exception as exc:  # noqa: BLE001 — reported to the test
            errors.append(type(exc).__name__)
            connection.close()
            sealed += chains.seal(chain, batch=args.batch)  # the next seal, on a fresh connection
    print(json.dumps({"sealed": sealed, "errors": errors, "crashed_after": crashed}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
