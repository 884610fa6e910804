"""Key rotation (vault/rotation.py): KEK rotation re-wraps keys only; subject key rotation
re-encrypts a subject's data under a new version, resumably, readable after a crash at any point."""

from __future__ import annotations

import datetime
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.records.clinical import clean_list
from confide.records.models import Patient
from confide.records.services import CHART, do_shred_patient, search_patients
from confide.vault import keys, kms, rotation
from confide.vault.allowance import allow
from confide.vault.errors import DecryptionFailed, KeyManagerError, VaultError
from confide.vault.fields import Sealed, encrypted_fields
from confide.vault.models import PracticeKey, SubjectKey

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = [f.column for f in encrypted_fields(Patient)]
FULL = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "preferred_name": "Countess",
    "date_of_birth": datetime.date(1815, 12, 10),
    "email": "ada@example.test",
    "phone": "+44 20 7946 0000",
    "health_background": "note-xyzzy",
    # A fixed item id, so the stored (validated) list is known: see confide/records/clinical.py.
    "medications": [{"id": "m1", "name": "laudanum", "dose": "none"}],
}
# Phones are stored in E.164 (confide/records/services.py, check_fields).
STORED = FULL | {"phone": "+442079460000", "medications": clean_list("medications", FULL["medications"])}


def _raw_rows() -> dict[str, tuple]:
    """Every patient's ciphertext columns exactly as stored."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(COLUMNS)} FROM records_patient")
        return {str(row[0]): tuple(row[1:]) for row in cursor.fetchall()}


def _raw(patient) -> tuple:
    key = patient.id.hex if connection.vendor == "sqlite" else str(patient.id)
    return _raw_rows()[key]


def _versions(patient) -> set[int]:
    return {int(value.split(":")[2]) for value in _raw(patient) if value is not None}


def _read(patient_id) -> dict:
    with allow(CHART):
        fresh = Patient.objects.get(id=patient_id)
        return {name: getattr(fresh, name) for name in FULL}


def _keyring_ids() -> set[str]:
    return set(json.loads(kms.key_manager().path.read_text())["keks"])


def _wrapped(practice_id) -> dict:
    practice_key = PracticeKey.objects.get(practice_id=practice_id)
    state = {"data": bytes(practice_key.wrapped_data_keyset), "index": bytes(practice_key.wrapped_index_key)}
    for row in SubjectKey.objects.all():
        state[(row.subject_id, row.version)] = None if row.wrapped_keyset is None else bytes(row.wrapped_keyset)
    return state


@pytest.fixture
def fresh_manager():
    kms.reset_key_manager()
    yield
    kms.reset_key_manager()


# --- KEK rotation -------------------------------------------------------------------------------


def test_rotate_kek_rewraps_every_key_and_leaves_the_data_alone(
    make_patient, in_practice_a, world, django_capture_on_commit_callbacks
):
    practice_id = world.a.practice.id
    patients = [make_patient(**FULL), make_patient(given_name="Grace", email="grace@example.test"), make_patient()]
    gone = make_patient(given_name="Gone")
    do_shred_patient(practice_id=practice_id, patient_id=gone.id)
    old_kek = PracticeKey.objects.get(practice_id=practice_id).kek_id
    raw_before, wrapped_before = _raw_rows(), _wrapped(practice_id)
    assert old_kek in _keyring_ids()

    with django_capture_on_commit_callbacks(execute=True):
        result = rotation.rotate_kek(practice_id)

    practice_key = PracticeKey.objects.get(practice_id=practice_id)
    assert practice_key.kek_id == result.new_kek_id != old_kek
    assert practice_key.kek_rotated_at is not None
    assert result.old_kek_destroyed and result.old_kek_note == ""
    assert (result.subject_keys_rewrapped, result.subject_keys_skipped) == (3, 1)
    ids = _keyring_ids()
    assert old_kek not in ids and result.new_kek_id in ids  # the old KEK is gone from the keyring
    wrapped_after = _wrapped(practice_id)
    assert wrapped_after.keys() == wrapped_before.keys()
    for key, before in wrapped_before.items():
        if before is None:
            assert wrapped_after[key] is None  # the shredded subject stays shredded
        else:
            assert wrapped_after[key] != before, key  # every live key is wrapped anew
    assert _raw_rows() == raw_before  # no ciphertext column changed
    kms.reset_key_manager()  # forget cached KEKs: read through the keyring file as a new process would
    assert _read(patients[0].id) == STORED
    assert _read(patients[1].id)["email"] == "grace@example.test"
    assert [p.id for p in search_patients(in_practice_a, "grace@example.test")] == [patients[1].id]  # index key
    event = AuditEntry.objects.get(event=AuditEvent.KEK_ROTATED)
    assert (event.chain, event.actor_kind, event.actor_id) == (str(practice_id), "system", "vault-rotation")
    assert event.detail == {
        "old_kek_id": old_kek, "new_kek_id": result.new_kek_id, "subject_keys_rewrapped": 3, "subject_keys_skipped": 1,
    }


def test_rotate_kek_keeps_going_when_the_manager_cannot_destroy_the_old_kek(
    make_patient, world, monkeypatch, django_capture_on_commit_callbacks, fresh_manager
):
    patient = make_patient(**FULL)
    old_kek = PracticeKey.objects.get(practice_id=world.a.practice.id).kek_id

    def refuse(kek_id):
        raise KeyManagerError("derived KEKs cannot be destroyed one by one; rotate the master key")

    monkeypatch.setattr(kms.key_manager(), "destroy_kek", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        result = rotation.rotate_kek(world.a.practice.id)
    assert not result.old_kek_destroyed and "cannot be destroyed" in result.old_kek_note
    assert PracticeKey.objects.get(practice_id=world.a.practice.id).kek_id == result.new_kek_id
    assert old_kek in _keyring_ids()
    assert _read(patient.id) == STORED


def test_a_failed_kek_rotation_changes_nothing_and_drops_the_new_kek(make_patient, world, monkeypatch, fresh_manager):
    practice_id = world.a.practice.id
    patients = [make_patient(**FULL), make_patient(), make_patient()]
    wrapped_before, ids_before = _wrapped(practice_id), _keyring_ids()
    calls = []
    real = keys.rewrap_subject_keyset

    def fail_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise DecryptionFailed("boom")
        return real(*args)

    monkeypatch.setattr(keys, "rewrap_subject_keyset", fail_on_second)
    with pytest.raises(DecryptionFailed):
        rotation.rotate_kek(practice_id)
    assert _wrapped(practice_id) == wrapped_before
    assert _keyring_ids() == ids_before  # the unused new KEK was removed again
    kms.reset_key_manager()
    assert _read(patients[0].id) == STORED


def test_the_env_key_manager_cannot_rotate_a_derived_kek(make_patient, world, monkeypatch, fresh_manager):
    monkeypatch.setenv("CONFIDE_KEY_MANAGER", "env")
    monkeypatch.setenv("CONFIDE_VAULT_MASTER_KEY", "A" * 43 + "=")
    kms.reset_key_manager()
    make_patient(**FULL)
    before = _wrapped(world.a.practice.id)
    with pytest.raises(KeyManagerError, match="rotate the master key"):
        rotation.rotate_kek(world.a.practice.id)
    assert _wrapped(world.a.practice.id) == before


def test_rotation_refuses_to_run_outside_its_practice_context(world):
    with pytest.raises(VaultError, match="own practice"):
        rotation.rotate_kek(world.a.practice.id)
    with pytest.raises(VaultError, match="own practice"):
        rotation.rotate_subject(world.a.practice.id, world.a.practice.id)


def test_an_old_kek_left_by_a_rotation_that_died_after_commit_is_removed_by_the_next_one_keys_under_it_first(
    make_patient, world, fresh_manager, django_capture_on_commit_callbacks
):
    """A rotation that committed but died before destroying its old KEK leaves that KEK, and a
    writer that read the old KEK id before the commit may have wrapped a new subject key under
    it. Removing the unused KEK first re-wraps such a key, so nothing becomes unreadable."""
    practice_id = world.a.practice.id
    patient, straggler = make_patient(**FULL), make_patient(given_name="Late", email="late@example.test")
    result = rotation.rotate_kek(practice_id)  # in the test's transaction: the on-commit destruction never runs
    manager = kms.key_manager()
    old_kek, new_kek = manager.kek_aead(result.old_kek_id), manager.kek_aead(result.new_kek_id)
    row = SubjectKey.objects.get(subject_id=straggler.id)
    row.wrapped_keyset = keys.rewrap_subject_keyset(practice_id, row, new_kek, old_kek)  # wrapped under the old KEK
    row.save(update_fields=["wrapped_keyset"])
    assert rotation.unused_keks(practice_id) == [result.old_kek_id]

    with django_capture_on_commit_callbacks(execute=True):
        removed, note = rotation.remove_unused_keks(practice_id)

    assert (removed, note) == ([result.old_kek_id], "")
    assert _keyring_ids() >= {result.new_kek_id} and result.old_kek_id not in _keyring_ids()
    assert rotation.unused_keks(practice_id) == []
    kms.reset_key_manager()
    assert _read(patient.id) == STORED
    assert _read(straggler.id)["email"] == "late@example.test"


def test_a_kek_rotation_removes_unused_keks_of_its_practice_only_and_says_so(
    make_patient, world, fresh_manager, django_capture_on_commit_callbacks
):
    practice_id = world.a.practice.id
    patient = make_patient(**FULL)
    manager = kms.key_manager()
    orphan = manager.create_kek(str(practice_id))  # as a rotation killed before its re-wrap leaves it
    other_practice = manager.create_kek(str(world.b.practice.id))

    with django_capture_on_commit_callbacks(execute=True):
        result = rotation.rotate_kek(practice_id)

    assert result.unused_removed == [orphan] and result.unused_note == ""
    ids = _keyring_ids()
    assert orphan not in ids and other_practice in ids and result.new_kek_id in ids
    kms.reset_key_manager()
    assert _read(patient.id) == STORED


def test_unused_keks_are_not_listed_by_a_manager_that_cannot_list_them(make_patient, world, monkeypatch, fresh_manager):
    monkeypatch.setenv("CONFIDE_KEY_MANAGER", "env")
    monkeypatch.setenv("CONFIDE_VAULT_MASTER_KEY", "A" * 43 + "=")
    kms.reset_key_manager()
    make_patient(**FULL)
    assert rotation.unused_keks(world.a.practice.id) is None
    assert rotation.remove_unused_keks(world.a.practice.id) == ([], "")


# --- subject key rotation ------------------------------------------------------------------------


def test_rotate_subject_moves_every_field_to_version_2_and_destroys_version_1(make_patient, world):
    patient = make_patient(**FULL)
    other = make_patient(given_name="Other", email="other@example.test")
    other_raw = _raw(other)
    assert _versions(patient) == {1}

    result = rotation.rotate_subject(world.a.practice.id, patient.id, batch_size=3)

    assert (result.to_version, result.retiring_versions, result.destroyed_versions) == (2, [1], [1])
    assert (result.moved, result.batches, result.resumed) == (8, 3, False)  # 8 ciphertexts, 3 per transaction
    assert _versions(patient) == {2}
    assert _read(patient.id) == STORED
    v1, v2 = SubjectKey.objects.filter(subject_id=patient.id).order_by("version")
    assert (v1.state, v1.wrapped_keyset, v1.destroyed_at is not None) == (SubjectKey.State.DESTROYED, None, True)
    assert (v2.version, v2.state, v2.wrapped_keyset is not None) == (2, SubjectKey.State.ACTIVE, True)
    assert _raw(other) == other_raw  # another subject is untouched
    event = AuditEntry.objects.get(event=AuditEvent.SUBJECT_KEY_ROTATED)
    assert (event.chain, event.actor_id) == (str(world.a.practice.id), "vault-rotation")
    assert event.detail == {
        "subject_id": str(patient.id), "to_version": 2, "destroyed_versions": [1], "ciphertexts_moved": 8,
        "files_rewrapped": 0, "resumed": False,
    }
    # New writes use version 2; a second rotation moves on to version 3.
    with allow(CHART):
        fresh = Patient.objects.get(id=patient.id)
        fresh.email = "new@example.test"
        fresh.save()
    assert rotation.rotate_subject(world.a.practice.id, patient.id).destroyed_versions == [2]
    assert _versions(patient) == {3}
    assert _read(patient.id) == STORED | {"email": "new@example.test"}


def test_an_interrupted_subject_rotation_stays_readable_and_resumes(make_patient, world, monkeypatch):
    patient = make_patient(**FULL)
    real, calls = rotation._move_row, []

    def crash_on_third_batch(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real(*args)

    monkeypatch.setattr(rotation, "_move_row", crash_on_third_batch)
    with pytest.raises(RuntimeError):
        rotation.rotate_subject(world.a.practice.id, patient.id, batch_size=2)
    monkeypatch.setattr(rotation, "_move_row", real)

    assert _versions(patient) == {1, 2}  # two batches committed, the third rolled back
    assert [int(v.split(":")[2]) for v in _raw(patient) if v is not None].count(2) == 4
    states = dict(SubjectKey.objects.filter(subject_id=patient.id).values_list("version", "state"))
    assert states == {1: SubjectKey.State.RETIRING, 2: SubjectKey.State.ACTIVE}
    assert _read(patient.id) == STORED  # mixed versions, all readable

    result = rotation.rotate_subject(world.a.practice.id, patient.id, batch_size=2)
    assert result.resumed and result.moved == 4 and result.destroyed_versions == [1]
    assert _versions(patient) == {2}
    assert _read(patient.id) == STORED


def test_a_stale_writer_putting_back_an_old_ciphertext_is_caught_before_the_old_key_goes(make_patient, world, monkeypatch):
    """A request that loaded the row before rotation and saves it after writes back version-1
    ciphertext; the locked final scan sees it and moves it before destroying version 1."""
    patient = make_patient(**FULL)
    stale_email = _raw(patient)[COLUMNS.index("email")]
    real, calls = rotation._finish, []

    def stale_write_then_finish(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            Patient.objects.filter(id=patient.id).update(email=Sealed(stale_email))
        return real(*args, **kwargs)

    monkeypatch.setattr(rotation, "_finish", stale_write_then_finish)
    result = rotation.rotate_subject(world.a.practice.id, patient.id)
    assert len(calls) == 2 and result.moved == 9
    assert _versions(patient) == {2}
    assert _read(patient.id) == STORED


def test_rotation_inside_an_allowance_that_cached_the_old_key_still_seals_under_the_new_one(make_patient, world):
    patient = make_patient(**FULL)
    with allow(CHART):
        fresh = Patient.objects.get(id=patient.id)
        fresh.phone = "+1 555 0100"
        fresh.save()  # caches version 1 as the active key in this allowance
        rotation.rotate_subject(world.a.practice.id, patient.id)
        assert _versions(patient) == {2}
        fresh = Patient.objects.get(id=patient.id)
        fresh.email = "after@example.test"
        fresh.save()
    assert _versions(patient) == {2}
    assert _read(patient.id) == STORED | {"phone": "+1 555 0100", "email": "after@example.test"}


def test_a_shredded_subject_cannot_be_rotated(make_patient, world):
    patient = make_patient(**FULL)
    do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
    with pytest.raises(keys.SubjectErased):
        rotation.rotate_subject(world.a.practice.id, patient.id)
    assert SubjectKey.objects.filter(subject_id=patient.id).count() == 1


def test_rotate_subject_rewraps_the_subjects_stored_files(make_patient, world, tmp_path):
    files = pytest.importorskip("confide.vault.files")
    if not all(hasattr(files, name) for name in rotation._FILES_API):
        pytest.skip("files module without the rotation API")
    from django.core.files.storage import FileSystemStorage

    storage = files.EncryptedStorage(FileSystemStorage(location=tmp_path / "files"))
    patient = make_patient(**FULL)
    body = b"%PDF-1.4 canary-diagnosis-xyzzy"
    with allow({"health.documents"}):
        name = storage.save_encrypted(
            "attachment", io.BytesIO(body), practice_id=patient.practice_id, subject_id=patient.id,
            content_type="application/pdf", category="health.documents",
        )
    result = rotation.rotate_subject(world.a.practice.id, patient.id, file_storage=storage)
    assert result.files_rewrapped == 1 and result.destroyed_versions == [1]
    assert files.read_header(storage, name).key_version == 2
    with allow({"health.documents"}), storage.open_decrypted(
        name, practice_id=patient.practice_id, subject_id=patient.id, category="health.documents"
    ) as handle:
        assert handle.read() == body


# --- crash test: a real process, SIGKILLed mid-rotation ----------------------------------------------

SEED = """
import datetime, json
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.records.services import CHART
from confide.vault.allowance import allow

practice = Practice.objects.create(slug="crash", name="Crash test")
ids = []
with tenant_context(practice_id=practice.id), allow(CHART):
    for n in range(3):
        p = Patient(
            practice_id=practice.id, given_name=f"Given{n}", family_name=f"Family{n}", preferred_name=f"Pref{n}",
            date_of_birth=datetime.date(1980, 1, n + 1), email=f"p{n}@example.test", phone=f"+1 555 010{n}",
            health_background=f"background {n}", medications=[{"id": f"m{n}", "name": f"med{n}"}],
        )
        p.save()
        ids.append(str(p.id))
print("SEEDED " + json.dumps(ids))
"""

READ = """
import datetime, json
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.records.services import CHART
from confide.vault.allowance import allow
from confide.vault.fields import encrypted_fields
from confide.vault.models import SubjectKey

practice = Practice.objects.get(slug="crash")
out = {}
with tenant_context(practice_id=practice.id), allow(CHART):
    for p in Patient.objects.all():
        row = {}
        for f in encrypted_fields(Patient):
            if p.__dict__[f.attname] is None:
                continue  # not filled in
            value = getattr(p, f.name)  # raises if a ciphertext does not open
            row[f.name] = [int(p.__dict__[f.attname].split(":")[2]), value.isoformat() if isinstance(value, datetime.date) else value]
        out[str(p.id)] = row
    states = {f"{k.subject_id}:{k.version}": [k.state, k.wrapped_keyset is not None] for k in SubjectKey.objects.all()}
print("STATE " + json.dumps({"patients": out, "keys": states}))
"""


def _expected(n: int) -> dict:
    return {
        "given_name": f"Given{n}", "family_name": f"Family{n}", "preferred_name": f"Pref{n}",
        "date_of_birth": f"1980-01-0{n + 1}", "email": f"p{n}@example.test", "phone": f"+1 555 010{n}",
        "health_background": f"background {n}", "medications": [{"id": f"m{n}", "name": f"med{n}"}],
    }


def _env(data_dir: Path) -> dict:
    drop = {"DATABASE_URL", "DATABASE_MIGRATE_URL", "CONFIDE_TEST_DATABASE", "CONFIDE_KEY_MANAGER", "CONFIDE_VAULT_MASTER_KEY", rotation.PAUSE_ENV}
    env = {key: value for key, value in os.environ.items() if key not in drop}
    return env | {"DJANGO_SETTINGS_MODULE": "confide.settings", "CONFIDE_DEV_MODE": "1", "CONFIDE_DATA_DIR": str(data_dir)}


def _confide(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "confide.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )


def _ok(env: dict, *args: str) -> str:
    result = _confide(env, *args)
    assert result.returncode == 0, f"confide {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _state(env: dict) -> dict:
    out = _ok(env, "shell", "-v", "0", "-c", READ)
    return json.loads(out.split("STATE ", 1)[1])


def _raw_versions(database: Path, patient_id: str) -> list[int]:
    db = sqlite3.connect(database, timeout=10)
    try:
        row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM records_patient WHERE id = ?", [patient_id.replace("-", "")]).fetchone()
    finally:
        db.close()
    return [int(value.split(":")[2]) for value in row if value is not None]


def _raw_patients(database: Path) -> dict:
    db = sqlite3.connect(database, timeout=10)
    try:
        return {row[0]: row[1:] for row in db.execute(f"SELECT id, {', '.join(COLUMNS)} FROM records_patient")}
    finally:
        db.close()


def test_a_rotation_killed_mid_way_leaves_every_field_readable_and_a_rerun_completes(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite pass runs this")
    data = tmp_path / "data"
    env = _env(data)
    database = data / "confide.sqlite3"
    _ok(env, "migrate", "--noinput", "-v", "0")
    target, *others = json.loads(_ok(env, "shell", "-v", "0", "-c", SEED).split("SEEDED ", 1)[1])
    before = _raw_patients(database)

    # One ciphertext per transaction, and a pause after each commit so the kill lands mid-way.
    with subprocess.Popen(
        [sys.executable, "-m", "confide.cli", "keys", "rotate-subject", "--patient", target, "--batch-size", "1"],
        env=env | {rotation.PAUSE_ENV: "0.4"}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:
        try:
            deadline = time.monotonic() + 90
            while 2 not in _raw_versions(database, target):  # until the first batch has committed
                assert proc.poll() is None, f"rotation exited early: {proc.communicate()}"
                assert time.monotonic() < deadline, "rotation never committed a batch"
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # Mid-rotation: some fields under v2, the rest under v1, v1 RETIRING, and everything reads.
    state = _state(env)
    target_versions = [version for version, _ in state["patients"][target].values()]
    assert 1 in target_versions and 2 in target_versions, target_versions
    assert state["keys"][f"{target}:1"] == ["retiring", True]
    assert state["keys"][f"{target}:2"] == ["active", True]
    for n, patient_id in enumerate([target, *others]):
        assert {name: value for name, (_, value) in state["patients"][patient_id].items()} == _expected(n)

    # Run it again: it resumes and finishes.
    out = _ok(env, "keys", "rotate-subject", "--patient", target, "--batch-size", "3")
    assert "now on key v2 (resumed)" in out and "destroyed versions: v1" in out
    state = _state(env)
    assert {version for version, _ in state["patients"][target].values()} == {2}
    assert state["keys"][f"{target}:1"] == ["destroyed", False]
    assert state["keys"][f"{target}:2"] == ["active", True]
    for n, patient_id in enumerate([target, *others]):
        assert {name: value for name, (_, value) in state["patients"][patient_id].items()} == _expected(n)
        assert state["keys"][f"{patient_id}:1"][0] == ("destroyed" if patient_id == target else "active")
    after = _raw_patients(database)
    for patient_id in others:  # other subjects' rows were never written
        assert after[patient_id.replace("-", "")] == before[patient_id.replace("-", "")]

    # The CLI's refusals exit non-zero from a real process, and change nothing.
    refused = _confide(env, "keys", "shred", "--patient", target)
    assert refused.returncode == 1 and "irreversible" in refused.stderr
    malformed = _confide(env, "keys", "rotate-subject", "--patient", "not-a-uuid")
    assert malformed.returncode == 1 and "--patient must be a UUID" in malformed.stderr
    assert _raw_patients(database) == after
