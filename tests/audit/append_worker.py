"""Append to audit chains from several threads at once, in a process of its own (real commits).

    python -m tests.audit.append_worker --chain UUID [--chain UUID …] --threads 8 --per-thread 25 [--sealers 2] [--migrate]

Run by tests/audit/test_concurrency.py and test_verify.py with DJANGO_SETTINGS_MODULE=tests.settings
and a data directory of the test's own: on SQLite a database file there (an in-memory test
database and threads do not mix), on PostgreSQL the test database as the application role.
Each thread appends to every chain in turn; all start together behind a barrier. With
--sealers K, K sealer threads seal the chains over and over while the writers append (as
`confide audit seal --follow` does, several at once); either way the chains are sealed once
more after the writers finish, as the sealer loop would within a second. Prints one JSON line:
{"appended": n, "sealed": n, "errors": [...]}.
"""

from __future__ import annotations

import argparse
import json
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", action="append", required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=25)
    parser.add_argument("--sealers", type=int, default=0)
    parser.add_argument("--no-final-seal", action="store_true", help="leave what the sealers did not seal unsealed")
    parser.add_argument("--migrate", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from confide.audit.chain import record, seal, system_actor
    from confide.audit.events import AuditEvent

    if args.migrate:
        call_command("migrate", interactive=False, verbosity=0)
        connection.close()
    barrier = threading.Barrier(args.threads)
    errors: list[str] = []
    counts = [0] * args.threads

    def work(index: int) -> None:
        try:
            barrier.wait()
            for n in range(args.per_thread):
                for chain in args.chain:
                    record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor(f"worker-{index}"),
                           purpose="treatment", resource_ids=[f"{index}-{n}"], categories=["contact.phone"])  # fmt: skip
                    counts[index] += 1
        except Exception as exc:  # noqa: BLE001 — reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    writing = threading.Event()
    sealed = [0] * args.sealers

    def sealer(index: int) -> None:
        try:
            while writing.is_set():
                for chain in args.chain:
                    sealed[index] += seal(chain, wait=index % 2 == 0)  # some wait for the head, some skip a held one
                time.sleep(0.005)  # a loop with a (very short) interval, as `confide audit seal --follow`
        except Exception as exc:  # noqa: BLE001 — reported to the test
            errors.append(f"sealer {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    writing.set()
    sealers = [threading.Thread(target=sealer, args=(i,)) for i in range(args.sealers)]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
    for thread in sealers + threads:
        thread.start()
    for thread in threads:
        thread.join()
    writing.clear()
    for thread in sealers:
        thread.join()
    final = 0 if args.no_final_seal else sum(seal(chain) for chain in args.chain)
    connection.close()
    print(json.dumps({"appended": sum(counts), "sealed": sum(sealed) + final, "errors": errors}))


if __name__ == "__main__":
    main()
