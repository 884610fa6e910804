"""Vault micro-benchmarks: per-field seal/open and attribute reads against the raw Tink call of
the same size, a 50-value chart read against plaintext, a cold subject-key unwrap, and (with
--files, when confide/vault/files.py has EncryptedStorage) 1 GiB
file encrypt+decrypt throughput and peak RSS.

    .venv/bin/python bench/vault.py [--files] [--scale 1.0]

Self-contained: dev mode, a temporary data directory (SQLite database and local keyring),
migrated from scratch and deleted at the end. Not collected by pytest (testpaths = tests/).
Each figure is the median of several timed runs (time.perf_counter_ns) after a warm-up.
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import importlib.util
import io
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

TEXT_40 = "Sertraline 50 mg once daily, review 6 wk"  # a typical 40-byte text field
TEXT_4K = ("Sleeps badly since March; mood low in the mornings, better by noon. " * 64)[:4096]  # a note's section
MEMO = "_vault_memo"  # where confide.vault.fields keeps its per-instance work (absent before it existed)
CHART_SIZE = 50
RUNS = 7


def setup_django(data_dir: str) -> None:
    os.environ["CONFIDE_DEV_MODE"] = "1"
    os.environ["CONFIDE_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "confide.settings"
    os.environ["CONFIDE_KEY_MANAGER"] = "local"
    for name in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
        os.environ.pop(name, None)  # always SQLite under data_dir
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def per_op_us(fn, ops_per_call: int, calls: int) -> float:
    """Median over RUNS of (time for `calls` calls) / (calls * ops_per_call), in µs."""
    for _ in range(max(1, calls // 10)):
        fn()  # warm-up
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter_ns() - start) / (calls * ops_per_call) / 1000)
    return statistics.median(samples)


def side_by_side_us(fns: dict, calls: int) -> dict[str, float]:
    """Like per_op_us for several functions, their runs interleaved so drift hits all alike."""
    for fn in fns.values():
        for _ in range(max(1, calls // 10)):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(RUNS):
        for name, fn in fns.items():
            start = time.perf_counter_ns()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter_ns() - start) / calls / 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def forget(instance):
    """The instance as freshly loaded: without what the vault remembers on it (opened values,
    the ids' text), so the next read does all the work of a first read."""
    instance.__dict__.pop(MEMO, None)
    return instance


def bench_field(field, patient, text: str, primitive, n) -> dict[str, float]:
    """One field's seal, open and attribute reads against the raw Tink calls they make, all in
    one interleaved run. The raw calls get the same plaintext bytes and associated data."""
    from confide.records.models import Patient
    from confide.vault.fields import Sealed

    sealed = Sealed(field.seal(patient, text))
    ad = f"{Patient._meta.db_table}\x1f{field.column}\x1f{patient.pk}\x1f{patient.pk}".encode()
    plaintext = text.encode()
    ciphertext = base64.b64decode(sealed.split(":", 3)[3])
    assert primitive.decrypt(ciphertext, ad) == plaintext  # the very operation the field performs
    assert field.open(patient, sealed) == text
    row = Patient.objects.get(pk=patient.pk)
    row.__dict__[field.attname] = sealed
    assert row.health_background == text
    return interleaved_best_us({
        "raw encrypt": lambda: primitive.encrypt(plaintext, ad),
        "seal": lambda: field.seal(patient, text),
        "raw decrypt": lambda: primitive.decrypt(ciphertext, ad),
        "open": lambda: field.open(patient, sealed),
        "first read": lambda: forget(row).health_background,
        "read again": lambda: row.health_background,
    }, batch=200, rounds=n(300))


def interleaved_best_us(fns: dict, batch: int, rounds: int) -> dict[str, float]:
    """Per call, the best of `rounds` short batches, the functions taking turns batch by batch.
    For sub-microsecond differences on a shared machine: a batch of a few hundred calls is
    short enough to run uninterrupted now and then, and the best batch is the code's own cost
    (timeit's advice); taking turns keeps each ratio's two sides under the same conditions."""
    for fn in fns.values():
        for _ in range(batch):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            best[name] = min(best[name], (time.perf_counter_ns() - start) / batch / 1000)
    return best


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", action="store_true", help="also 1 GiB file encrypt+decrypt (needs vault/files.py)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iteration counts (default 1.0)")
    args = parser.parse_args()
    n = lambda count: max(10, int(count * args.scale))  # noqa: E731

    data_dir = tempfile.mkdtemp(prefix="confide-bench-")
    try:
        setup_django(data_dir)
        return run(args, n, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run(args, n, data_dir: str) -> int:
    import django
    from django.db import connection, models

    from confide.accounts.models import Membership, User
    from confide.core.actors import StaffActor
    from confide.core.models import Practice, TenantModel
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.models import Patient
    from confide.records.services import CHART, do_create_patient
    from confide.vault import keys
    from confide.vault.allowance import allow
    from confide.vault.fields import EncryptedTextField, Sealed

    # Two bench-only tables of the same shape, one plaintext and one encrypted under the
    # patient's key (as clinical notes will be: subject_field points at the patient).
    class BenchPlainValue(TenantModel):
        subject_id = models.UUIDField(db_index=True)
        value = models.TextField()

        class Meta:
            app_label = "bench"
            db_table = "bench_plain_value"

    class BenchSealedValue(TenantModel):
        subject_id = models.UUIDField(db_index=True)
        value = EncryptedTextField(category="health.background", subject_field="subject_id")

        class Meta:
            app_label = "bench"
            db_table = "bench_sealed_value"

    with connection.schema_editor() as editor:
        editor.create_model(BenchPlainValue)
        editor.create_model(BenchSealedValue)

    practice = Practice.objects.create(slug="bench", name="Bench Practice")
    user = User.objects.create_user("bench@example.test", None, display_name="Bench")
    rows: list[tuple[str, float, str]] = []

    with tenant_context(practice_id=practice.id):
        actor = StaffActor.from_membership(Membership.objects.create(user=user, practice=practice, role=Role.CLINICIAN))
        patient = do_create_patient(actor=actor, given_name="Bench", family_name="Patient")  # makes the subject key
        values = [f"{TEXT_40[:36]}{i:04d}" for i in range(CHART_SIZE)]  # 40 bytes each, all distinct
        with allow(CHART):
            BenchPlainValue.objects.bulk_create(
                BenchPlainValue(practice_id=practice.id, subject_id=patient.id, value=v) for v in values
            )
            for v in values:  # save(), not bulk_create: the associated data needs each row's id
                BenchSealedValue(practice_id=practice.id, subject_id=patient.id, value=v).save()

        field = Patient._meta.get_field("health_background")
        per_field = {}
        with allow(CHART):  # one allowance: the subject key is unwrapped once and cached
            for label, text in (("40-byte", TEXT_40), ("4 KiB", TEXT_4K)):
                per_field[label] = bench_field(field, patient, text, keys.subject_aead(practice.id, patient.id)[1], n)
            chart_rows = list(BenchSealedValue.objects.filter(subject_id=patient.id))
            assert [r.value for r in chart_rows] == values
            chart_decrypt = per_op_us(lambda: [forget(r).value for r in chart_rows], 1, n(300))

            def read_plain():
                return [r.value for r in BenchPlainValue.objects.filter(subject_id=patient.id)]

            def read_encrypted():
                return [r.value for r in BenchSealedValue.objects.filter(subject_id=patient.id)]

            assert read_plain() == read_encrypted() == values

        def read_encrypted_new_allowance():
            with allow(CHART):  # outermost: the key cache starts empty, so the key is unwrapped
                return read_encrypted()

        with allow(CHART):
            side = side_by_side_us({"plain": read_plain, "encrypted": read_encrypted}, n(200))
        side["cold"] = per_op_us(read_encrypted_new_allowance, 1, n(200))

        def unwrap_cold():
            with allow(CHART):  # outermost allowance: empty key cache
                keys.subject_aead(practice.id, patient.id)

        unwrap = per_op_us(unwrap_cold, 1, n(500))

        rows += [
            (f"chart decrypt: {CHART_SIZE} values opened, key cached, no DB", chart_decrypt, "µs"),
            (f"chart read, plaintext: query {CHART_SIZE} rows + read", side["plain"], "µs"),
            (f"chart read, encrypted: query {CHART_SIZE} rows + decrypt, key cached", side["encrypted"], "µs"),
            ("chart read, encrypted, new allowance (+ key unwrap)", side["cold"], "µs"),
            ("subject key unwrap, cold cache (DB lookup + unwrap)", unwrap, "µs"),
        ]
        files = bench_files(args, practice, patient, data_dir)

    print(f"Confide vault bench — Python {sys.version.split()[0]}, Django {django.get_version()}, "
          f"tink {importlib.metadata.version('tink')}, SQLite {connection.Database.sqlite_version}, "
          f"local keyring, AES256-GCM; median of {RUNS} runs")
    print("per field, side by side in one run (vault vs the raw Tink call it makes, same plaintext and associated data;"
          " best of interleaved 200-call batches):")
    for label, t in per_field.items():
        print(f"  {label} text: raw encrypt {t['raw encrypt']:.2f} µs, seal {t['seal']:.2f} µs = {t['seal'] / t['raw encrypt']:.2f}x;"
              f"  raw decrypt {t['raw decrypt']:.2f} µs, open {t['open']:.2f} µs = {t['open'] / t['raw decrypt']:.2f}x")
        print(f"  {' ' * len(label)}       attribute read: first on an instance {t['first read']:.2f} µs = "
              f"{t['first read'] / t['raw decrypt']:.2f}x raw decrypt; again {t['read again']:.2f} µs = {t['read again'] / t['raw decrypt']:.2f}x")
    width = max(len(label) for label, _, _ in rows + files)
    for label, value, unit in rows + files:
        print(f"  {label:<{width}}  {value:>10.1f} {unit}")
    print(f"chart decrypt / plaintext read = {side['encrypted'] / side['plain']:.2f}x"
          f"   (encrypted vs plaintext chart read of the same {CHART_SIZE} values from the DB, key cached)")
    print(f"  with a new allowance (key unwrap) {side['cold'] / side['plain']:.2f}x; decrypt alone is "
          f"{chart_decrypt / side['plain']:.2f}x the whole plaintext read")
    if not args.files:
        print("files: skipped (pass --files)")
    return 0


class _Stream(io.RawIOBase):
    """`size` bytes of a repeated random MiB, seekable, never all in memory."""

    def __init__(self, size: int):
        self.size, self.pos, self.block = size, 0, os.urandom(1 << 20)

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + offset
        return self.pos

    def readinto(self, buffer):
        want = min(len(buffer), self.size - self.pos)
        if want <= 0:
            return 0
        start = self.pos % len(self.block)
        chunk = (self.block[start:] + self.block[:start])[:want] if want > len(self.block) - start else self.block[start:start + want]
        buffer[: len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


def bench_files(args, practice, patient, data_dir: str) -> list[tuple[str, float, str]]:
    if not args.files:
        return []
    if importlib.util.find_spec("confide.vault.files") is None:
        print("files: confide/vault/files.py does not exist yet: skipped")
        return []
    from django.core.files.storage import FileSystemStorage

    from confide.vault import files
    from confide.vault.allowance import allow

    if not hasattr(files, "EncryptedStorage"):
        print("files: confide.vault.files has no EncryptedStorage: skipped")
        return []
    size = 1 << 30
    rss_before = peak_rss_mib()
    try:
        # The API of files.py as of this script: save_encrypted / open_decrypted over an inner
        # Django storage (here the filesystem under the bench's temporary data directory).
        storage = files.EncryptedStorage(FileSystemStorage(location=os.path.join(data_dir, "files")))
        ids = {"practice_id": practice.id, "subject_id": patient.id, "category": "health.documents"}
        with allow({"health.documents"}):
            start = time.perf_counter_ns()
            name = storage.save_encrypted("bench", _Stream(size), content_type="application/octet-stream", **ids)
            encrypt_s = (time.perf_counter_ns() - start) / 1e9
            start, total = time.perf_counter_ns(), 0
            with storage.open_decrypted(name, **ids) as handle:
                while chunk := handle.read(1 << 20):
                    total += len(chunk)
            decrypt_s = (time.perf_counter_ns() - start) / 1e9
        assert total == size, f"decrypted {total} bytes of {size}"
    except Exception as exc:  # noqa: BLE001 — an API this script does not know: say so, don't crash
        print(f"files: EncryptedStorage API not recognised by this script ({type(exc).__name__}: {exc}): skipped")
        return []
    mib = size / (1 << 20)
    return [
        ("file encrypt, 1 GiB", mib / encrypt_s, "MiB/s"),
        ("file decrypt, 1 GiB", mib / decrypt_s, "MiB/s"),
        (f"peak RSS (before files {rss_before:.0f} MiB)", peak_rss_mib(), "MiB"),
    ]


if __name__ == "__main__":
    sys.exit(main())
