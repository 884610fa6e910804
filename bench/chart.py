"""The chart door's cost (issue 13, "a cheap door"): the door against plain reads of the same
rows, at the service level and over HTTP, on SQLite and (with DATABASE_URL) PostgreSQL.

    .venv/bin/python bench/chart.py [--reps 200] [--fields 10] [--requests 60]
    DATABASE_URL=… DATABASE_MIGRATE_URL=… .venv/bin/python bench/chart.py   # + PostgreSQL

Service level: `open_chart` of one patient for treatment and reading N encrypted fields, against
a plain ORM read of the same row and the same N fields (no checks, no audit entry; the keyset
from the same process cache the door uses, its generation read in the same query as the row).
HTTP: a signed-in Django test Client GETs each chart tab with the door, and the same page with
the door swapped, in this process only, for plain reads (`plain_doors`: the patient row, an
allowance for what the role may see; no checks, no entry). The swap is a monkeypatch made
here: no setting or code path of the application offers it.

Figures are medians of interleaved runs (door, plain, door, plain, …) so drift hits both alike,
with the statements each one sends (CaptureQueriesContext). Each backend runs in a child
process with a throwaway data directory (SQLite database, keyring); on PostgreSQL the database
named by DATABASE_URL is used as it is (a throwaway one: the audit log is append-only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Ten encrypted fields of the patient, in the categories a clinician opens for treatment.
FIELDS = ["given_name", "family_name", "date_of_birth", "phone", "email", "address", "medications", "allergies", "conditions",
          "health_background", "preferred_name", "pronouns", "lab_results", "immunizations", "encounters"]  # fmt: skip
TABS = ["records:chart", "records:chart-clinical", "records:chart-documents", "records:chart-consultations", "records:chart-psychotherapy"]


def setup_django(backend: str, data_dir: str) -> None:
    os.environ["CONFIDE_DEV_MODE"] = "1"
    os.environ["CONFIDE_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "confide.settings"
    os.environ["CONFIDE_KEY_MANAGER"] = "local"
    os.environ["CONFIDE_HTTPS"] = "0"
    os.environ["CONFIDE_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    if backend == "sqlite":
        for name in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
            os.environ.pop(name, None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test Client's 'testserver' host
    call_command("migrate", database="owner" if "owner" in settings.DATABASES else "default", interactive=False, verbosity=0)
    for connection in connections.all():
        connection.close()


def measure(fns: dict, reps: int) -> dict[str, float]:
    """Median ms per call of each function, runs interleaved."""
    for fn in fns.values():
        for _ in range(5):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter_ns()
            fn()
            samples[name].append((time.perf_counter_ns() - start) / 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def statements(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def make_world():
    """A practice, a clinician signed in with an authenticator, a full chart with a document, a
    photo and a psychotherapy note."""
    from confide.core.actors import StaffActor
    from confide.core.models import Practice
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.files import do_add_file
    from confide.records.notes import do_create_psychotherapy_note
    from confide.records.services import do_create_patient
    from tests.access.conftest import FULL
    from tests.factories import MembershipFactory, UserFactory, enrol_totp
    from tests.records.uploads import pdf_upload, png_upload

    practice = Practice.objects.create(slug=f"bench-{uuid.uuid4().hex[:8]}", name="Bench Practice")
    user = UserFactory(email=f"bench-{uuid.uuid4().hex[:8]}@example.test", display_name="Bench Clinician")
    enrol_totp(user)
    with tenant_context(practice_id=practice.id):
        membership = MembershipFactory(user=user, practice=practice, role=Role.CLINICIAN)
        actor = StaffActor.from_membership(membership)
        patient = do_create_patient(actor=actor, **FULL)
        do_add_file(actor=actor, patient_id=patient.id, kind="document", upload=pdf_upload(), title="A letter")
        do_add_file(actor=actor, patient_id=patient.id, kind="photo", upload=png_upload(), title="A photo")
        do_create_psychotherapy_note(actor=actor, patient_id=patient.id, text="Process note.")
    return practice, user, actor, patient


# --- the bench-only plain doors -----------------------------------------------------------------
def _plain_patient(patient_id):
    from confide.access import door
    from confide.core.subjects import patient_model

    return door._with_key_generation(patient_model().objects.filter(pk=patient_id)).get()


@contextmanager
def _plain_open_chart(actor, patient_id, purpose, *, categories=None, request=None, **_ignored):
    from confide.access import door, policy
    from confide.core.purposes import Purpose
    from confide.vault.allowance import allow

    purpose = Purpose(purpose)
    granted = frozenset(categories) if categories is not None else policy.categories_for(actor.role, purpose)
    patient = _plain_patient(getattr(patient_id, "pk", patient_id))
    chart = door.Chart(attempt=door._Attempt.start(actor, request), patient=patient, purpose=purpose, categories=granted)
    with allow(granted, subjects={patient.pk}):
        door._note_key_generation(patient)
        chart._is_open = True
        yield chart


@contextmanager
def _plain_open_psychotherapy_notes(actor, patient_id, *, request=None, with_header=False):
    from django.apps import apps

    from confide.access import door, policy
    from confide.vault.allowance import allow

    patient = _plain_patient(getattr(patient_id, "pk", patient_id))
    note_model = apps.get_model(door.PSYCHOTHERAPY_NOTE_MODEL)
    notes = list(note_model.objects.filter(patient_id=patient.pk, author_id=actor.user_id).order_by("-created_at"))
    granted = frozenset({policy.PSYCHOTHERAPY_NOTES}) | (door.PSYCHOTHERAPY_HEADER if with_header else frozenset())
    with allow(granted, subjects={patient.pk}):
        door._note_key_generation(patient)
        yield door.PsychotherapyChart(actor=actor, patient=patient, notes=notes, entry=None, request=request)


_SWAP_SITES: list | None = None


def _swap_sites() -> list:
    """(module, attribute, door, plain) for every loaded module that imported a door; found once."""
    global _SWAP_SITES
    if _SWAP_SITES is None:
        from confide.access import door

        swaps = [(door.open_chart, _plain_open_chart), (door.open_psychotherapy_notes, _plain_open_psychotherapy_notes)]
        _SWAP_SITES = []
        for name, module in list(sys.modules.items()):
            if not name.startswith("confide.") or module is None:
                continue
            for attr, value in list(vars(module).items()):
                for real, plain in swaps:
                    if value is real:
                        _SWAP_SITES.append((module, attr, real, plain))
    return _SWAP_SITES


@contextmanager
def plain_doors():
    """Swap the chart doors for plain reads in every loaded module that imported them (a few
    setattr calls: the sites are found once, outside the timings)."""
    sites = _swap_sites()
    for module, attr, _, plain in sites:
        setattr(module, attr, plain)
    try:
        yield
    finally:
        for module, attr, real, _ in sites:
            setattr(module, attr, real)


# --- the child: one backend ---------------------------------------------------------------------
def child(backend: str, reps: int, n_fields: int, requests: int) -> None:
    data_dir = tempfile.mkdtemp(prefix=f"confide-bench-chart-{backend}-")
    try:
        setup_django(backend, data_dir)
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        from confide.access.door import open_chart
        from confide.core.purposes import Purpose
        from confide.core.tenancy import tenant_context
        from tests.conftest import sign_in

        practice, user, actor, patient = make_world()
        fields = FIELDS[:n_fields]
        result = {"backend": backend, "server": connection.vendor, "fields": len(fields)}
        with tenant_context(practice_id=practice.id):

            def door():
                with open_chart(actor, patient.id, Purpose.TREATMENT) as chart:
                    return [getattr(chart.patient, name) for name in fields]

            def plain():
                with _plain_open_chart(actor, patient.id, Purpose.TREATMENT) as chart:
                    return [getattr(chart.patient, name) for name in fields]

            def door_no_audit():
                # The door with its audit append swapped for a stub (bench only): the door's own
                # share, apart from the append the audit log's work is rebuilding.
                from confide.access import door as door_module

                real = door_module.record
                door_module.record = lambda *args, **kwargs: None
                try:
                    return door()
                finally:
                    door_module.record = real

            assert door() == plain() == door_no_audit()
            result["service"] = measure({"door": door, "door_no_audit": door_no_audit, "plain": plain}, reps)
            result["service_statements"] = {"door": statements(door), "door_no_audit": statements(door_no_audit), "plain": statements(plain)}

        client = sign_in(Client(), user, practice)
        for tab in TABS:  # every view module loaded before the door's import sites are looked for
            client.get(reverse(tab, kwargs={"patient_id": patient.id}))
        _swap_sites()
        pages = {}
        for tab in TABS:
            path = reverse(tab, kwargs={"patient_id": patient.id})

            def get(path=path):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            def get_plain(path=path):
                with plain_doors():
                    get(path)

            pages[tab] = measure({"door": get, "plain": get_plain}, requests)
            pages[tab]["statements_door"] = statements(get)
            pages[tab]["statements_plain"] = statements(get_plain)
        result["pages"] = pages
        print(json.dumps(result))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --- the parent ---------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=200, help="service-level openings per side (default 200)")
    parser.add_argument("--fields", type=int, default=10, help=f"encrypted fields read per opening (≤ {len(FIELDS)}, default 10)")
    parser.add_argument("--requests", type=int, default=60, help="GETs per tab per side (default 60)")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reps, args.fields, args.requests)
        return 0

    import platform

    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    print(f"Chart door bench: python {platform.python_version()}, {os.cpu_count()} CPUs; medians of interleaved runs")
    for backend in backends:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", backend, "--reps", str(args.reps), "--fields", str(args.fields),
             "--requests", str(args.requests)],
            cwd=REPO, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        if proc.returncode != 0:
            print(f"{backend}: failed\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        s, q = r["service"], r["service_statements"]
        print()
        print(f"{backend}: service level, open + read {r['fields']} fields")
        print(f"  door  {s['door']:7.3f} ms  {q['door']:>3} statements")
        print(f"  plain {s['plain']:7.3f} ms  {q['plain']:>3} statements")
        print(f"  door, audit append stubbed {s['door_no_audit']:7.3f} ms  {q['door_no_audit']:>3} statements")
        print(f"  ratio {s['door'] / s['plain']:7.2f}x   (target ≤ 2x); without the append {s['door_no_audit'] / s['plain']:.2f}x")
        print(f"{backend}: HTTP GET, signed-in clinician (target ≤ 1.25x)")
        print(f"  {'tab':<30} {'door ms':>8} {'plain ms':>9} {'ratio':>6} {'stmts door/plain':>17}")
        for tab, p in r["pages"].items():
            print(f"  {tab:<30} {p['door']:8.2f} {p['plain']:9.2f} {p['door'] / p['plain']:6.2f} {p['statements_door']:>8}/{p['statements_plain']}")
    if "postgres" not in backends:
        print("\npostgres: skipped (DATABASE_URL not set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
