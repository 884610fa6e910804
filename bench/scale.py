"""Growth with data: the patient list, a common-surname search, the privacy tab, the notes tab and
one FHIR bundle import at 10 / 1,000 / 10,000 patients, each with its ratio to the 10-patient cost.

    .venv/bin/python bench/scale.py [--quick] [--reps 5]
    DATABASE_URL=… DATABASE_MIGRATE_URL=… .venv/bin/python bench/scale.py   # + PostgreSQL (a throwaway database)

Each size is a practice of its own in one database per backend (SQLite in a temporary data
directory; PostgreSQL when DATABASE_URL is set), built in bulk: one Tink keyset is made once and
wrapped per patient (each patient has a SubjectKey row bound to its id, as the vault makes them),
and every encrypted column is sealed per row under it with the row's own associated data, so the
pages read and decrypt real rows through the door. Each patient carries clinical lists of ~4 KiB
(what the list must not load); 1% share the surname "Smith" (the search); the audit log holds
10 entries per patient about patients (100,000 at 10,000), 5% of them about the measured patient,
a third of those about psychotherapy notes by another clinician (the tab filters them out); the
measured patient has patients/10 progress notes. After the build `confide db optimize` runs (as
a bulk load should). The service calls are timed (median of --reps after one warm-up), with the
number of queries each made. The FHIR row imports one Synthea bundle as a new patient.
--quick: 10 and 1,000 only. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]  # bench/fhir.py shadows `fhir`
BUNDLES = REPO.parent / "shared" / "data" / "synthea-r4"
SURNAMES = ["Okafor", "Quintero", "Lindqvist", "Nakamura", "Ödegaard", "Abara", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad",
            "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Patel", "Rossi", "Santos", "Tanaka", "Umarov", "Varga",
            "Weber", "Xu", "Yilmaz", "Zhang", "Brennan"]  # fmt: skip
GIVEN = ["Marisol", "Tobias", "Amara", "Bea", "Carlos", "Dana", "Eitan", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kemi", "Luca", "Mei"]


def setup_django(backend: str, data_dir: str) -> None:
    os.environ["CONFIDE_DEV_MODE"] = "1"
    os.environ["CONFIDE_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "confide.settings"
    os.environ["CONFIDE_KEY_MANAGER"] = "local"
    if backend == "sqlite":
        for name in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
            os.environ.pop(name, None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", database="owner" if "owner" in settings.DATABASES else "default", interactive=False, verbosity=0)


# --- building a practice in bulk ----------------------------------------------------------------
def _sealer(practice_id):
    import tink
    from tink import aead

    from confide.vault import keys

    kek = keys._kek_for(keys.ensure_practice_key(practice_id))
    handle = tink.new_keyset_handle(keys.AEAD_TEMPLATE)
    primitive = handle.primitive(aead.Aead)

    def wrap(subject_id) -> bytes:
        return tink.proto_keyset_format.serialize_encrypted(handle, kek, keys._subject_ad(practice_id, subject_id, 1))

    def seal(instance, field_name: str, value):
        from confide.vault.fields import PREFIX, Sealed, _attr, _memo

        field = type(instance)._meta.get_field(field_name)
        ad = field._ad(_memo(instance), _attr(instance, field._pk_attname), _attr(instance, field._bound_attname))  # as seal() builds it
        ciphertext = primitive.encrypt(field.to_bytes(value), ad)
        instance.__dict__[field.attname] = Sealed(f"{PREFIX}:s:1:{base64.b64encode(ciphertext).decode()}")

    return wrap, seal


def build_practice(size: int, rng: random.Random) -> dict:
    from django.db import transaction

    from confide.accounts.models import Membership, User
    from confide.audit.chain import content_hash, content_values
    from confide.audit.models import AuditEntry
    from confide.audit.scope import chain_scope
    from confide.core.models import Practice
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.models import ProgressNote, Patient
    from confide.records.services import INDEXED
    from confide.vault import blind_index
    from confide.vault.models import BlindIndexEntry, SubjectKey

    tag = uuid.uuid4().hex[:8]
    practice = Practice.objects.create(slug=f"scale-{size}-{tag}", name=f"Scale {size}")
    owner = User.objects.create_user(f"owner-{tag}@example.test", None, display_name="Owner")
    other = User.objects.create_user(f"other-{tag}@example.test", None, display_name="Other clinician")
    medications = [{"id": str(uuid.uuid4()), "name": f"Medication {k}", "dose": "10 mg", "frequency": "daily", "status": "active",
                    "note": "x" * 60} for k in range(30)]  # fmt: skip
    with tenant_context(practice_id=practice.id):
        membership = Membership.objects.create(user=owner, practice=practice, role=Role.OWNER)
        Membership.objects.create(user=other, practice=practice, role=Role.CLINICIAN)
        wrap, seal = _sealer(practice.id)
        ids = [uuid.uuid4() for _ in range(size)]
        smiths = set(rng.sample(range(size), max(1, size // 100)))
        now = datetime.datetime.now(datetime.UTC)
        for start in range(0, size, 1000):
            patients, subject_keys, entries = [], [], []
            for n in range(start, min(size, start + 1000)):
                pid = ids[n]
                values = {
                    "given_name": "Target" if n == 0 else rng.choice(GIVEN),
                    "family_name": "Smith" if n in smiths else rng.choice(SURNAMES),
                    "date_of_birth": datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(25_000)),
                    "phone": f"+1415555{n % 10_000:04d}", "email": f"p{n}@example.test", "medications": medications,
                }  # fmt: skip
                patient = Patient(id=pid, practice_id=practice.id, created_at=now, updated_at=now - datetime.timedelta(seconds=n))
                for name, value in values.items():
                    seal(patient, name, value)
                patients.append(patient)
                subject_keys.append(SubjectKey(practice_id=practice.id, subject_id=pid, version=1, wrapped_keyset=wrap(pid)))
                for kind, fields in INDEXED.items():
                    digests = set()
                    for f in fields:
                        if values.get(f):
                            digests.update(blind_index.digest(practice.id, kind, t) for t in blind_index.tokens(kind, values[f]))
                    entries += [BlindIndexEntry(practice_id=practice.id, subject_id=pid, kind=kind, digest=d) for d in digests]
            with transaction.atomic():
                Patient.objects.bulk_create(patients)
                SubjectKey.objects.bulk_create(subject_keys)
                BlindIndexEntry.objects.bulk_create(entries, batch_size=2000)
        target = ids[0]
        # Notes of the measured patient, drafts (a signed note's hash is checked on every read).
        notes = []
        for k in range(max(2, size // 10)):
            note = ProgressNote(id=uuid.uuid4(), practice_id=practice.id, patient_id=target, author_id=owner.pk, template="free",
                                created_at=now - datetime.timedelta(minutes=k), updated_at=now)  # fmt: skip
            seal(note, "content", {"text": f"Progress note {k}: sleeps better, plan unchanged."})
            notes.append(note)
        ProgressNote.objects.bulk_create(notes, batch_size=1000)
        # The audit log: 10 entries per patient about patients, 5% about the measured one, written as
        # record() writes them (unsealed, with their content hash): the pages read entries by time,
        # sealed or not, and sealing 100,000 entries is bench/audit.py's measurement, not this one's.
        total, about_target = 10 * size, max(5, size // 2)
        batch = []
        for k in range(total):
            subject = target if k < about_target else ids[rng.randrange(size)]
            psycho = subject == target and k % 3 == 0
            batch.append(AuditEntry(
                chain=str(practice.id), at=now - datetime.timedelta(seconds=k), event="records:chart:opened",
                practice_id=practice.id, actor_kind="user", actor_id=str(other.pk if psycho else owner.pk), actor_role="clinician",
                purpose="treatment", subject_id=subject, resource_ids=[str(subject)],
                categories=["health.psychotherapy_notes"] if psycho else ["health.notes", "identifiers.name"],
            ))  # fmt: skip
            batch[-1].content_hash = content_hash(content_values(batch[-1]))
            if len(batch) == 5000 or k == total - 1:
                with transaction.atomic(), chain_scope(str(practice.id)):  # PostgreSQL: the append policy
                    AuditEntry.objects.bulk_create(batch)
                batch = []
    return {"practice": practice, "membership": membership, "target": target}


# --- measuring ----------------------------------------------------------------------------------
def measure(fn, reps: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()
    with CaptureQueriesContext(connection) as queries:
        fn()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), len(queries.captured_queries)


def run_size(size: int, reps: int, bundle: Path | None, rng: random.Random, explain: bool = False) -> dict:
    from confide.core.actors import StaffActor
    from confide.core.db import statistics as db_statistics
    from confide.core.tenancy import tenant_context
    from confide.records import chart, fhir, services

    built = build_practice(size, rng)
    db_statistics.analyze(db_statistics.maintenance_alias() or "default")
    practice, target = built["practice"], built["target"]
    results = {}
    counter = iter(range(1_000_000))
    with tenant_context(practice_id=practice.id):
        actor = StaffActor.from_membership(built["membership"])
        ops = {
            "list, by last name (page 1)": lambda: services.list_patient_page(actor, "", 1, sort="name"),
            "list, recently updated (page 1)": lambda: services.list_patient_page(actor, "", 1, sort="recent"),
            "list, recently updated (page 20)": lambda: services.list_patient_page(actor, "", 20, sort="recent"),
            "search 'smith' (common surname)": lambda: services.list_patient_page(actor, "smith", 1),
            "privacy tab (page 1)": lambda: chart.get_privacy(actor, target),
            "notes tab (page 1)": lambda: chart.get_notes(actor, target),
        }
        if bundle is not None:
            # Read and checked before the clock (the parse costs the same at any size): one copy per call.
            copies = iter([fhir.read_bundle_file(bundle) for _ in range(reps + 2)])
            ops["FHIR bundle import (new patient)"] = lambda: fhir.import_bundle(
                next(copies), practice_id=practice.id, source_system=f"https://bench.example/{next(counter)}"
            )
        for name, fn in ops.items():
            results[name] = measure(fn, reps if "last name" not in name or size <= 1000 else max(1, reps // 2))
        if explain:
            print_plans(size, target)
    return results


def print_plans(size: int, target) -> None:
    """The plans of the tenant-scoped lookups at this size (stderr): each should use its
    composite index led by practice_id (docs/operations.md)."""
    from confide.audit.reports import _about_patient
    from confide.records.models import Patient, ProgressNote
    from confide.vault.models import BlindIndexEntry

    patient = Patient.objects.filter(pk=target).values("practice_id").first()
    lookups = {
        "source_key": Patient.objects.filter(source_key="0" * 64).values_list("id"),
        "blind index (subject, kind)": BlindIndexEntry.objects.filter(subject_id=target, kind="name").values_list("digest"),
        "list, recent": Patient.objects.filter(is_active__in=[True]).order_by("-updated_at", "-id").values_list("id")[:25],
        "notes page": ProgressNote.objects.filter(patient_id=target).order_by("-created_at", "-id").values_list("id")[:21],
        "privacy page": _about_patient(patient["practice_id"], target, None).order_by("-at", "-id")[:51],
    }
    for name, queryset in lookups.items():
        plan = " | ".join(line.strip() for line in queryset.explain().splitlines())
        print(f"[plan {size}] {name}: {plan[:400]}", file=sys.stderr, flush=True)


def child(backend: str, sizes: list[int], reps: int) -> None:
    data_dir = tempfile.mkdtemp(prefix=f"confide-bench-scale-{backend}-")
    try:
        setup_django(backend, data_dir)
        bundles = sorted(BUNDLES.glob("*.json"), key=lambda p: p.stat().st_size) if BUNDLES.is_dir() else []
        bundle = bundles[len(bundles) // 2] if bundles else None  # a bundle of median size
        rng = random.Random(13)
        out = {}
        for size in sizes:
            started = time.perf_counter()
            out[size] = run_size(size, reps, bundle, rng, explain=size == sizes[-1])
            print(f"[{backend}] {size} patients measured ({time.perf_counter() - started:.0f} s with the build)", file=sys.stderr, flush=True)
        print(json.dumps({str(k): v for k, v in out.items()}))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def print_table(backend: str, results: dict, sizes: list[int]) -> None:
    base = str(sizes[0])
    print(f"\n{backend}: median ms (queries) and ratio to {sizes[0]} patients")
    header = f"{'':36}" + "".join(f"{f'{s:,} patients':>26}" for s in sizes)
    print(header)
    for op in results[base]:
        cells = []
        for s in sizes:
            ms, queries = results[str(s)][op]
            ratio = ms / results[base][op][0]
            cells.append(f"{ms:9.1f} ({queries:3d} q) {ratio:5.2f}×")
        print(f"{op:36}" + "".join(f"{c:>26}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 1,000 patients only")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one backend only")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([10, 1000] if args.quick else [10, 1000, 10_000])
    if args.child:
        child(args.child, sizes, args.reps)
        return 0
    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    backends = [args.only] if args.only else backends
    print(f"bench/scale.py: sizes {sizes}, {args.reps} reps; backends {backends}")
    for backend in backends:
        proc = subprocess.run([sys.executable, __file__, "--child", backend, "--sizes", ",".join(map(str, sizes)), "--reps", str(args.reps)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True, check=False)  # fmt: skip
        if proc.returncode != 0:
            print(f"{backend}: failed (exit {proc.returncode})\n{proc.stdout[-2000:]}")
            continue
        print_table(backend, json.loads(proc.stdout.strip().splitlines()[-1]), sizes)
        sys.stdout.flush()
    if not os.environ.get("DATABASE_URL"):
        print("\n(PostgreSQL: set DATABASE_URL and DATABASE_MIGRATE_URL to a throwaway database)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
