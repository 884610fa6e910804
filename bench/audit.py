"""Audit log benchmarks: appends/s with 1 and 8 concurrent writers on one chain while the
sealer loop runs beside them, the sealing lag (commit → sealed, p50/p99), one sealer pass's
entries/s, verification entries/s against raw chained SHA-256 over the same canonical bytes,
and chart-open latency through the chart door (when confide/access/door.py has `open_chart`).

    .venv/bin/python bench/audit.py [--entries 2000]
    DATABASE_URL=postgres://app@127.0.0.1/db DATABASE_MIGRATE_URL=postgres://owner@127.0.0.1/db .venv/bin/python bench/audit.py

SQLite always: a database file in a temporary data directory (WAL, synchronous=NORMAL, as
configured in confide/settings.py), migrated from scratch, deleted at the end. PostgreSQL too
when DATABASE_URL is set: migrated through DATABASE_MIGRATE_URL when given; the bench chains it
appends to are committed and stay (the log is append-only: use a throwaway database). Each
backend runs in a child process of its own (Django's settings are per process). Every append is
one `record()` in its own transaction, checkpoints at the default (every 100 entries, signed,
fsynced into the data directory), so the figures include them. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# --- the child: one backend -------------------------------------------------------------------
def setup_django(backend: str, data_dir: str) -> None:
    os.environ["CONFIDE_DEV_MODE"] = "1"
    os.environ["CONFIDE_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "confide.settings"
    os.environ.pop("CONFIDE_AUDIT_CHECKPOINT_EVERY", None)
    if backend == "sqlite":
        for name in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
            os.environ.pop(name, None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", database="owner" if "owner" in settings.DATABASES else "default", interactive=False, verbosity=0)
    for connection in connections.all():
        connection.close()


def _writer_pool(writers: int, total: int, chain: str, stamps: list | None):
    """`writers` threads appending total//writers entries each, all released together; each
    append is one record() in autocommit (its own transaction, committed when it returns)."""
    from django.db import connection

    from confide.audit.chain import record, system_actor
    from confide.audit.events import AuditEvent

    barrier = threading.Barrier(writers + 1)
    errors: list[str] = []

    def work(index: int) -> None:
        mine = []
        try:
            barrier.wait()
            for _ in range(total // writers):
                entry = record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor(f"bench-{index}"), purpose="treatment",
                               resource_ids=[str(uuid.uuid4())], categories=["contact.phone", "identifiers.name"])  # fmt: skip
                if stamps is not None:
                    mine.append((entry.id, time.time()))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
            if stamps is not None:
                stamps.extend(mine)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    return threads, errors


def appends_per_second(writers: int, total: int, interval: float = 1.0) -> tuple[float, str, dict]:
    """Appends/s with `writers` threads while a sealer loop (`confide audit seal --follow`'s
    body: seal the chain, sleep `interval`) runs beside them in a thread of its own; and the
    sealing lag of every entry: from its commit to the commit of the seal that gave it its seq."""
    from django.db import connection

    from confide.audit.chain import record, seal, system_actor
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry

    chain = str(uuid.uuid4())
    seal(record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor("bench")).chain)  # the head row exists first
    stamps: list[tuple[int, float]] = []
    passes: list[tuple[float, int]] = []  # (when a seal pass committed, how many it sealed)
    stop = threading.Event()

    def sealer() -> None:
        try:
            while not stop.is_set():
                sealed = seal(chain, wait=False)
                passes.append((time.time(), sealed))
                stop.wait(interval)
            passes.append((time.time(), seal(chain)))  # the last pass, after the writers
        finally:
            connection.close()

    loop = threading.Thread(target=sealer)
    loop.start()
    threads, errors = _writer_pool(writers, total, chain, stamps)
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    stop.set()
    loop.join()
    if errors:
        raise SystemExit(f"{writers} writers: {len(errors)} errors, first: {errors[0]}")
    from confide.audit.scope import chain_scope

    with chain_scope(chain):  # PostgreSQL: the application role reads a chain only in its scope
        seq_of = dict(AuditEntry.objects.filter(chain=chain).values_list("id", "seq"))
    sealed_at, done = [], 1  # seq 1 is the head's own entry
    for when, count in passes:
        sealed_at.extend([when] * count)
        done += count
    lags = sorted(sealed_at[seq_of[entry_id] - 2] - committed for entry_id, committed in stamps)
    lag = {"p50": lags[len(lags) // 2], "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))], "max": lags[-1]}
    return (total // writers) * writers / elapsed, chain, lag


def seal_rate(total: int) -> float:
    """Entries sealed per second by one sealer pass over `total` waiting entries (in batches of SEAL_BATCH)."""
    from confide.audit.chain import seal

    chain = str(uuid.uuid4())
    threads, errors = _writer_pool(4, total, chain, None)
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"seal-rate writers: {errors[0]}")
    start = time.perf_counter()
    sealed = seal(chain)
    return sealed / (time.perf_counter() - start)


def verify_rates(chain: str, runs: int = 5) -> dict:
    from confide.audit import checkpoints
    from confide.audit.chain import CONTENT_FIELDS, LINK_DOMAIN, content_canonical
    from confide.audit.models import ChainHead
    from confide.audit.verify import stream_rows, verify_chain

    sink, public_key = checkpoints.sink(), checkpoints.load_public_key()
    from django.conf import settings

    using = "owner" if "owner" in settings.DATABASES else "default"  # as `confide audit verify`: row security
    head = ChainHead.objects.using(using).filter(chain=chain).values_list("seq", "hash").first()
    stored = sink.read(chain)
    rows = list(stream_rows(chain, using=using))
    canon = [content_canonical(tuple(getattr(row, name) for name in CONTENT_FIELDS)) for row in rows]  # v2 entries (audit 0007)

    def full():  # what `confide audit verify --chain` does: stream from the database, hash, check checkpoints
        report = verify_chain(chain, stream_rows(chain, using=using), stored, public_key=public_key, head=head)
        assert report.ok, report.problems[:3]

    def in_memory():  # the same check over rows already fetched
        assert verify_chain(chain, rows, stored, public_key=public_key, head=head).ok

    def raw():  # chained SHA-256 over the same canonical bytes, nothing else
        prev = "0" * 64
        for data, row in zip(canon, rows, strict=True):
            if row.prev_hash != prev:
                raise AssertionError
            content = hashlib.sha256(data).hexdigest()  # v2: the content hash, then the link over it
            prev = hashlib.sha256(LINK_DOMAIN + f"{chain}\n{row.seq}\n{content}\n{prev}".encode()).hexdigest()
            if content != row.content_hash or prev != row.hash:
                raise AssertionError

    def rate(fn):
        fn()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return len(rows) / statistics.median(samples)

    return {"entries": len(rows), "checkpoints": len(stored), "verify": rate(full), "in_memory": rate(in_memory), "raw": rate(raw)}


def chart_open_ms(opens: int) -> str | dict:
    try:
        from confide.access.door import open_chart  # noqa: F401
    except ImportError:
        return "pending"
    try:
        from confide.access.door import open_chart
        from confide.core.purposes import Purpose
        from confide.accounts.models import Membership, User
        from confide.core.actors import StaffActor
        from confide.core.models import Practice
        from confide.core.permissions import Role
        from confide.core.tenancy import tenant_context
        from confide.records.models import Patient
        from confide.records.services import do_create_patient
        from confide.vault.allowance import allow

        practice = Practice.objects.create(slug=f"bench-{uuid.uuid4().hex[:8]}", name="Bench Practice")
        user = User.objects.create_user(f"bench-{uuid.uuid4().hex[:8]}@example.test", None, display_name="Bench")
        with tenant_context(practice_id=practice.id):
            actor = StaffActor.from_membership(Membership.objects.create(user=user, practice=practice, role=Role.CLINICIAN))
            patient = do_create_patient(actor=actor, given_name="Bench", family_name="Patient", phone="+1 415 555 0100")

            def door():
                with open_chart(actor, patient.id, Purpose.TREATMENT, categories={"identifiers.name"}) as chart:
                    return chart.patient.given_name

            def plain():  # the same row without door, audit entry or decryption allowance checks
                with allow({"identifiers.name"}, subjects={patient.id}):
                    return Patient.objects.get(id=patient.id).given_name

            samples = {"door": [], "plain": []}
            for fn in (door, plain):
                fn()
            for _ in range(opens):
                for name, fn in (("door", door), ("plain", plain)):
                    start = time.perf_counter_ns()
                    fn()
                    samples[name].append((time.perf_counter_ns() - start) / 1e6)
        return {name: statistics.median(values) for name, values in samples.items()}
    except Exception as exc:  # noqa: BLE001 — the door is being written concurrently
        return f"error: {type(exc).__name__}: {str(exc)[:120]}"


def child(backend: str, total: int) -> None:
    data_dir = tempfile.mkdtemp(prefix=f"confide-bench-audit-{backend}-")
    try:
        setup_django(backend, data_dir)
        from django.db import connection

        result = {"backend": backend, "server": connection.vendor}
        for writers in (1, 8):
            rate, chain, lag = appends_per_second(writers, total)
            result[f"append_{writers}"] = rate
            result[f"lag_{writers}"] = lag
            if writers == 1:
                verify_chain_id = chain
        result["seal"] = seal_rate(total)
        result["verify"] = verify_rates(verify_chain_id)
        result["chart_open"] = chart_open_ms(200) if backend == "sqlite" else None
        print(json.dumps(result))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --- the parent: run each backend, print the table ------------------------------------------
def run_child(backend: str, total: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", backend, "--entries", str(total)],
                          cwd=REPO, capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{backend} bench failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000, help="appends per measurement (default 2000)")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.entries)
        return 0

    import platform

    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    results = [run_child(backend, args.entries) for backend in backends]
    print(f"Audit log bench: python {platform.python_version()}, {os.cpu_count()} CPUs, {args.entries} appends per row; "
          "one chain, one transaction per append (one INSERT, unsealed), a sealer loop beside the writers "
          "(seal, sleep 1 s; checkpoint every 100, signed, fsynced)")  # fmt: skip
    print()
    targets = {("sqlite", 8): 2000, ("postgres", 8): 5000}
    print(f"{'backend':<10} {'writers':>7} {'appends/s':>10} {'target':>7} {'lag p50 s':>9} {'lag p99 s':>9} {'lag max s':>9}")
    for r in results:
        for writers in (1, 8):
            lag, target = r[f"lag_{writers}"], targets.get((r["backend"], writers))
            print(f"{r['backend']:<10} {writers:>7} {r[f'append_{writers}']:>10,.0f} {(f'{target:,}' if target else '-'):>7} "
                  f"{lag['p50']:>9.3f} {lag['p99']:>9.3f} {lag['max']:>9.3f}")  # fmt: skip
    print("sealing lag target: p99 <= 2 s")
    print()
    print(f"{'backend':<10} {'sealed/s (one pass over ' + str(args.entries) + ' waiting entries)':>52}")
    for r in results:
        print(f"{r['backend']:<10} {r['seal']:>52,.0f}")
    print()
    print(f"{'backend':<10} {'entries':>7} {'ckpts':>5} {'verify/s':>10} {'in-memory/s':>12} {'raw sha256/s':>13} {'verify:raw':>10} {'in-mem:raw':>10}")
    for r in results:
        v = r["verify"]
        print(f"{r['backend']:<10} {v['entries']:>7} {v['checkpoints']:>5} {v['verify']:>10,.0f} {v['in_memory']:>12,.0f} "
              f"{v['raw']:>13,.0f} {v['verify'] / v['raw']:>10.3f} {v['in_memory'] / v['raw']:>10.3f}")  # fmt: skip
    print()
    chart = results[0]["chart_open"]
    if isinstance(chart, dict):
        print(f"chart-open (sqlite, door + audit entry, one category): median {chart['door']:.2f} ms; "
              f"same row without the door {chart['plain']:.2f} ms; ratio {chart['door'] / chart['plain']:.1f}x")  # fmt: skip
    else:
        print(f"chart-open: {chart}")
    if "postgres" not in backends:
        print("postgres: skipped (DATABASE_URL not set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
