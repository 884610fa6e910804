"""Audit log benchmarks: appends/s with 1 and 8 concurrent writers on one chain, verification
entries/s against raw chained SHA-256 over the same canonical bytes, and chart-open latency
through the chart door (when confide/access/door.py has `open_chart`).

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


def appends_per_second(writers: int, total: int) -> tuple[float, str]:
    from django.db import connection

    from confide.audit.chain import record, system_actor
    from confide.audit.events import AuditEvent

    chain = str(uuid.uuid4())
    record(AuditEvent.CHART_OPENED, practice_id=chain)  # the head row exists before the clock starts
    barrier = threading.Barrier(writers + 1)
    errors: list[str] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            for n in range(total // writers):
                record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor(f"bench-{index}"), purpose="treatment",
                       resource_ids=[str(uuid.uuid4())], categories=["contact.phone", "identifiers.name"])  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{writers} writers: {len(errors)} errors, first: {errors[0]}")
    return (total // writers) * writers / elapsed, chain


def bulk_chain(entries: int, every: int = 100) -> str:
    """A chain of `entries` realistic entries with correct hashes and links, inserted in bulk (not
    through `record()`: the bench measures verify, not appends), a signed checkpoint every
    `every` entries (listing their hashes, as the sealer does), and its head row."""
    from django.db import transaction
    from django.utils import timezone

    from confide.audit import checkpoints
    from confide.audit.chain import entry_hash
    from confide.audit.models import GENESIS, AuditEntry, ChainHead
    from confide.audit.scope import chain_scope

    chain, practice = str(uuid.uuid4()), None
    practice = uuid.UUID(chain)
    subjects = [uuid.uuid4() for _ in range(500)]
    sink, start, prev, hashes, batch = checkpoints.sink(), timezone.now(), GENESIS, [], []
    with transaction.atomic(), chain_scope(chain):
        for seq in range(1, entries + 1):
            entry = AuditEntry(
                chain=chain, seq=seq, at=start + datetime.timedelta(milliseconds=seq), event="records:chart:opened",
                practice_id=practice, actor_kind="user", actor_id=str(seq % 40 + 1), actor_role="clinician", purpose="treatment",
                subject_id=subjects[seq % len(subjects)], resource_ids=[str(uuid.uuid4())], categories=["contact.phone", "identifiers.name"],
                fields_changed=[] if seq % 7 else ["phone"], outcome="ok", reason="", flagged=False,
                detail={} if seq % 10 else {"count": seq % 13, "kind": "note"}, request_id=uuid.uuid4().hex,
                ip_address="192.0.2.%d" % (seq % 250 + 1), user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", prev_hash=prev,
            )  # fmt: skip
            entry.hash = prev = entry_hash(entry)
            batch.append(entry)
            hashes.append(prev)
            if seq % every == 0:
                sink.put(checkpoints.sign(chain, seq, prev, hashes=hashes))
                hashes = []
            if len(batch) == 5000:
                AuditEntry.objects.bulk_create(batch)
                batch = []
        AuditEntry.objects.bulk_create(batch)
    last_checkpoint = entries - entries % every
    with transaction.atomic(), chain_scope(chain):  # the head's guard looks for its entry: in the chain's scope (row security)
        ChainHead.objects.create(chain=chain)  # a head starts at seq 0 and only moves forward (audit 0005)
        ChainHead.objects.filter(chain=chain).update(seq=entries, hash=prev, checkpoint_seq=last_checkpoint, checkpoint_at=timezone.now())
    return chain


def verify_rates(entries: int, jobs: int, rounds: int = 3) -> dict:
    """verify/s streamed (1 and `jobs` processes), in memory, the encoder alone, the fetch alone
    (Django's values_list iterator, and the driver's cursor), against a chained SHA-256 over the
    same canonical bytes: medians of `rounds` rounds, each round timing every variant in turn."""
    from django.conf import settings
    from django.db import connections

    from confide.audit import checkpoints
    from confide.audit.chain import HASHED_FIELDS, canonical, encode_hashed
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
    canon = [canonical(row) for row in rows]
    chunk = 5000

    def raw():  # chained SHA-256 over the same canonical bytes, nothing else
        prev = "0" * 64
        for data, row in zip(canon, rows, strict=True):
            if row[-2] != prev:
                raise AssertionError
            prev = hashlib.sha256(data).hexdigest()
            if prev != row[-1]:
                raise AssertionError

    def encode_only():
        for row in rows:
            encode_hashed(row)

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
            cursor.execute(f"SELECT {', '.join(HASHED_FIELDS)}, hash FROM audit_auditentry WHERE chain = %s ORDER BY seq, id", [chain])
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
                rate, chain = appends_per_second(writers, total)
                result[f"append_{writers}"] = rate
            result["chart_open"] = chart_open_ms(200) if backend == "sqlite" else None
        if parts in ("all", "verify"):
            result["verify"] = verify_rates(verify_entries, jobs)
        print(json.dumps(result))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --- the parent: run each backend, print the table ------------------------------------------
VERIFY_COLUMNS = {  # what, and how it is measured: each as entries/s and as a ratio to raw chained SHA-256
    "raw": "chained SHA-256 over the canonical bytes (precomputed), with the link and hash compares",
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
          "one chain, one transaction per append, checkpoint every 100 (signed, fsynced)")  # fmt: skip
    print()
    if args.only in ("all", "appends"):
        print(f"{'backend':<10} {'writers':>7} {'appends/s':>10}")
        for r in results:
            for writers in (1, 8):
                print(f"{r['backend']:<10} {writers:>7} {r[f'append_{writers}']:>10,.0f}")
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
