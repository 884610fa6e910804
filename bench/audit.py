"""Audit log benchmarks: appends/s with 1 and 8 concurrent writers on one chain while the
sealer loop runs beside them, the sealing lag (commit → sealed, p50/p99), one sealer pass's
entries/s, verification entries/s against raw chained SHA-256 over the same canonical bytes,
and chart-open latency through the chart door (when confide/access/door.py has `open_chart`).

    .venv/bin/python bench/audit.py [--entries 2000] [--verify-entries 100000] [--jobs N] [--only verify]
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
import datetime
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


def _process_writer(index: int, count: int, chain: str, go, results) -> None:
    """One writer process (forked before any connection or thread exists in the parent)."""
    from django.db import connection

    from confide.audit.chain import record, system_actor
    from confide.audit.events import AuditEvent

    mine, error = [], ""
    try:
        go.wait()
        for _ in range(count):
            entry = record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor(f"bench-{index}"), purpose="treatment",
                           resource_ids=[str(uuid.uuid4())], categories=["contact.phone", "identifiers.name"])  # fmt: skip
            mine.append((entry.id, time.time()))
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
        results.put((mine, error))


def appends_per_second_processes(writers: int, total: int, interval: float = 1.0) -> tuple[float, dict]:
    """As `appends_per_second`, the writers as processes, as gunicorn's workers are: threads in
    one process share one interpreter lock, so above ~200 µs of Python per record() eight
    threads measure the lock, not the log."""
    import multiprocessing

    from django.db import connection, connections

    from confide.audit.chain import record, seal, system_actor
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.audit.scope import chain_scope

    chain = str(uuid.uuid4())
    seal(record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor("bench")).chain)
    connections.close_all()  # nothing open crosses the fork
    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(i, total // writers, chain, go, results)) for i in range(writers)]
    for proc in procs:
        proc.start()
    passes: list[tuple[float, int]] = []
    stop = threading.Event()

    def sealer() -> None:
        try:
            while not stop.is_set():
                passes.append((time.time(), seal(chain, wait=False)))
                stop.wait(interval)
            passes.append((time.time(), seal(chain)))
        finally:
            connection.close()

    loop = threading.Thread(target=sealer)
    loop.start()
    start = time.perf_counter()
    go.set()
    stamps, errors = [], []
    for _ in procs:
        mine, error = results.get()
        stamps.extend(mine)
        if error:
            errors.append(error)
    elapsed = time.perf_counter() - start
    for proc in procs:
        proc.join()
    stop.set()
    loop.join()
    if errors:
        raise SystemExit(f"{writers} writer processes: {len(errors)} errors, first: {errors[0]}")
    with chain_scope(chain):
        seq_of = dict(AuditEntry.objects.filter(chain=chain).values_list("id", "seq"))
    sealed_at = []
    for when, count in passes:
        sealed_at.extend([when] * count)
    lags = sorted(sealed_at[seq_of[entry_id] - 2] - committed for entry_id, committed in stamps)
    lag = {"p50": lags[len(lags) // 2], "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))], "max": lags[-1]}
    return (total // writers) * writers / elapsed, lag


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


def bulk_chain(entries: int) -> str:
    """A chain of `entries` realistic entries, inserted unsealed in bulk with their content hashes
    (not through `record()`: the bench measures verify, not appends), then sealed by the sealer:
    v2 chain hashes, a signed checkpoint every 100 entries listing their hashes, the head row."""
    from django.db import transaction
    from django.utils import timezone

    from confide.audit.chain import content_hash, content_values, seal
    from confide.audit.models import AuditEntry, ChainHead
    from confide.audit.scope import chain_scope

    chain, practice = str(uuid.uuid4()), None
    practice = uuid.UUID(chain)
    subjects = [uuid.uuid4() for _ in range(500)]
    start, batch = timezone.now(), []
    with transaction.atomic(), chain_scope(chain):  # row security: the log takes inserts in the chain's scope
        for seq in range(1, entries + 1):
            entry = AuditEntry(
                chain=chain, at=start + datetime.timedelta(milliseconds=seq), event="records:chart:opened",
                practice_id=practice, actor_kind="user", actor_id=str(seq % 40 + 1), actor_role="clinician", purpose="treatment",
                subject_id=subjects[seq % len(subjects)], resource_ids=[str(uuid.uuid4())], categories=["contact.phone", "identifiers.name"],
                fields_changed=[] if seq % 7 else ["phone"], outcome="ok", reason="", flagged=False,
                detail={} if seq % 10 else {"count": seq % 13, "kind": "note"}, request_id=uuid.uuid4().hex,
                ip_address="192.0.2.%d" % (seq % 250 + 1), user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
            )  # fmt: skip
            entry.content_hash = content_hash(content_values(entry))  # inserted unsealed, as record() does (the triggers allow nothing else)
            batch.append(entry)
            if len(batch) == 5000:
                AuditEntry.objects.bulk_create(batch)
                batch = []
        AuditEntry.objects.bulk_create(batch)
    # The sealer gives them their seqs and v2 chain hashes, and signs a checkpoint every
    # CONFIDE_AUDIT_CHECKPOINT_EVERY (100) entries, listing their hashes: the chain verify reads.
    assert seal(chain) == entries
    with chain_scope(chain):
        assert ChainHead.objects.filter(chain=chain).values_list("seq", flat=True).first() == entries
    return chain


def verify_rates(entries: int, jobs: int, rounds: int = 3) -> dict:
    """verify/s streamed (1 and `jobs` processes), in memory, the encoder alone, the fetch alone
    (Django's values_list iterator, and the driver's cursor), against a chained SHA-256 over the
    same canonical bytes: medians of `rounds` rounds, each round timing every variant in turn."""
    from django.conf import settings
    from django.db import connections

    from confide.audit import checkpoints
    from confide.audit.canonical import encoder
    from confide.audit.chain import CONTENT_FIELDS, LINK_DOMAIN
    from confide.audit.models import AuditEntry, ChainHead
    from confide.audit.verify import ROW_FIELDS, stream_rows, verify_chain, verify_chains

    using = "owner" if "owner" in settings.DATABASES else "default"  # PostgreSQL: the role that reads every chain
    started = time.perf_counter()
    chain = bulk_chain(entries)
    setup_s = time.perf_counter() - started
    sink, public_key = checkpoints.sink(), checkpoints.load_public_key()
    head = ChainHead.objects.using(using).filter(chain=chain).values_list("seq", "hash").first()
    stored = sink.read(chain)
    rows = list(stream_rows(chain, using=using))
    encode_content = encoder(CONTENT_FIELDS, layout=ROW_FIELDS)  # a v2 entry's content bytes, straight from its row
    canon = [encode_content(row) for row in rows]
    seq_at, prev_at, hash_at, content_at = (ROW_FIELDS.index(name) for name in ("seq", "prev_hash", "hash", "content_hash"))
    chunk = 5000

    def raw():  # chained SHA-256 over the same canonical bytes, nothing else
        prev = "0" * 64
        for data, row in zip(canon, rows, strict=True):
            if row[prev_at] != prev:
                raise AssertionError
            content = hashlib.sha256(data).hexdigest()  # v2: the content hash, then the link over it
            prev = hashlib.sha256(LINK_DOMAIN + f"{chain}\n{row[seq_at]}\n{content}\n{prev}".encode()).hexdigest()
            if content != row[content_at] or prev != row[hash_at]:
                raise AssertionError

    def encode_only():
        for row in rows:
            encode_content(row)

    def in_memory():
        assert verify_chain(chain, rows, stored, public_key=public_key, head=head).ok

    def streamed(processes: int):
        def run():
            size = -(-len(rows) // processes) if processes > 1 else 10**12
            [report] = verify_chains([chain], sink=sink, public_key=public_key, chunk_size=chunk, using=using, jobs=processes, segment_entries=size)
            assert report.ok and report.entries == len(rows) and report.processes == processes, report.problems[:3]

        return run

    def fetch_stream():  # what verify reads with: stream_rows (driver rows, the few conversions done inline)
        for _ in stream_rows(chain, chunk, using=using):
            pass

    def fetch_django():  # the same rows through Django: values_list(...).iterator() and its per-row converters
        for _ in AuditEntry.objects.using(using).filter(chain=chain).order_by("seq", "id").values_list(*ROW_FIELDS).iterator(chunk_size=chunk):
            pass

    def fetch_driver():  # the database driver alone: a server-side cursor on PostgreSQL, no Django conversions
        connection = connections[using]
        connection.ensure_connection()
        with connection.chunked_cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(ROW_FIELDS)} FROM audit_auditentry WHERE chain = %s ORDER BY seq, id", [chain])
            while cursor.fetchmany(chunk):
                pass

    variants = {"raw": raw, "encode": encode_only, "in_memory": in_memory, "verify_1": streamed(1), f"verify_{jobs}": streamed(jobs),
                "fetch_stream": fetch_stream, "fetch_django": fetch_django, "fetch_driver": fetch_driver}  # fmt: skip
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    rates = {name: len(rows) / statistics.median(values) for name, values in samples.items()}
    return {"entries": len(rows), "checkpoints": len(stored), "jobs": jobs, "setup_s": setup_s, "bytes": sum(map(len, canon)) / len(canon), **rates}


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


def child(backend: str, total: int, verify_entries: int = 100_000, jobs: int = 2, parts: str = "all") -> None:
    data_dir = tempfile.mkdtemp(prefix=f"confide-bench-audit-{backend}-")
    try:
        setup_django(backend, data_dir)
        from django.db import connection

        result = {"backend": backend, "server": connection.vendor}
        if parts in ("all", "appends"):
            for writers in (1, 8):
                rate, _chain, lag = appends_per_second(writers, total)
                result[f"append_{writers}"] = rate
                result[f"lag_{writers}"] = lag
            result["append_8p"], result["lag_8p"] = appends_per_second_processes(8, total)
            result["seal"] = seal_rate(total)
            result["chart_open"] = chart_open_ms(200) if backend == "sqlite" else None
        if parts in ("all", "verify"):
            result["verify"] = verify_rates(verify_entries, jobs)
        print(json.dumps(result))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --- the parent: run each backend, print the table ------------------------------------------
VERIFY_COLUMNS = {  # what, and how it is measured: each as entries/s and as a ratio to raw chained SHA-256
    "raw": "the v2 check alone over the content bytes (precomputed): SHA-256 of the content, the link hash, the compares",
    "encode": "the canonical encoder alone, rows in memory",
    "in_memory": "verify_chain over rows in memory (encode + hash + checks), 1 process",
    "fetch_driver": "the driver alone: SELECT … ORDER BY seq, fetchmany (server-side cursor on PostgreSQL)",
    "fetch_stream": "verify's stream_rows: the driver's rows, JSON decoded, UUIDs as text (no Django converters)",
    "fetch_django": "the same through values_list(...).iterator() and Django's per-row converters (for comparison)",
    "verify_1": "confide audit verify's path, streamed from the database, 1 process",
    "verify_N": "the same in N segments, a pool of N processes (fork, Django inherited)",
}


def print_verify(results: list[dict]) -> None:
    for r in results:
        v = r["verify"]
        jobs = v["jobs"]
        print(f"verify, {r['backend']}: {v['entries']:,} entries ({v['bytes']:.0f} canonical bytes each), {v['checkpoints']} checkpoints, "
              f"built in bulk in {v['setup_s']:.0f} s; medians of 3 rounds, every variant timed in each round")  # fmt: skip
        print(f"  {'variant':<14} {'entries/s':>11} {'x raw':>7}  what")
        for name, what in VERIFY_COLUMNS.items():
            key = f"verify_{jobs}" if name == "verify_N" else name
            label = f"verify_{jobs}" if name == "verify_N" else name
            what = what.replace("N segments, a pool of N", f"{jobs} segments, a pool of {jobs}")
            print(f"  {label:<14} {v[key]:>11,.0f} {v[key] / v['raw']:>7.3f}  {what}")
        print()


def run_child(backend: str, total: int, verify_entries: int, jobs: int, parts: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", backend, "--entries", str(total), "--verify-entries", str(verify_entries),
                           "--jobs", str(jobs), "--only", parts], cwd=REPO, capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{backend} bench failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000, help="appends per measurement (default 2000)")
    parser.add_argument("--verify-entries", type=int, default=100_000, help="entries of the chain verify reads (default 100000)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the parallel verify (default: cores)")
    parser.add_argument("--only", choices=["all", "appends", "verify"], default="all", help="run one part (default all)")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.entries, args.verify_entries, args.jobs, args.only)
        return 0

    import platform

    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    results = [run_child(backend, args.entries, args.verify_entries, args.jobs, args.only) for backend in backends]
    print(f"Audit log bench: python {platform.python_version()}, {os.cpu_count()} CPUs, {args.entries} appends per row; "
          "one chain, one transaction per append (one INSERT, unsealed), a sealer loop beside the writers "
          "(seal, sleep 1 s; checkpoint every 100, signed, fsynced)")  # fmt: skip
    print()
    if args.only in ("all", "appends"):
        targets = {("sqlite", 8): 2000, ("postgres", 8): 5000}
        print(f"{'backend':<10} {'writers':>7} {'appends/s':>10} {'target':>7} {'lag p50 s':>9} {'lag p99 s':>9} {'lag max s':>9}")
        for r in results:
            for writers, label in ((1, "1"), (8, "8"), ("8p", "8 procs")):
                lag, target = r[f"lag_{writers}"], targets.get((r["backend"], 8 if writers == "8p" else writers))
                print(f"{r['backend']:<10} {label:>7} {r[f'append_{writers}']:>10,.0f} {(f'{target:,}' if target else '-'):>7} "
                      f"{lag['p50']:>9.3f} {lag['p99']:>9.3f} {lag['max']:>9.3f}")  # fmt: skip
        print("writers 1 and 8: threads of one process; 8 procs: eight processes, as gunicorn's workers")
        print("sealing lag target: p99 <= 2 s")
        print()
        print(f"{'backend':<10} {'sealed/s (one pass over ' + str(args.entries) + ' waiting entries)':>52}")
        for r in results:
            print(f"{r['backend']:<10} {r['seal']:>52,.0f}")
        print()
    if args.only in ("all", "verify"):
        print_verify(results)
    chart = results[0].get("chart_open")
    if chart is None:
        pass
    elif isinstance(chart, dict):
        print(f"chart-open (sqlite, door + audit entry, one category): median {chart['door']:.2f} ms; "
              f"same row without the door {chart['plain']:.2f} ms; ratio {chart['door'] / chart['plain']:.1f}x")  # fmt: skip
    else:
        print(f"chart-open: {chart}")
    if "postgres" not in backends:
        print("postgres: skipped (DATABASE_URL not set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
