"""Faults: a missing keyring, a wrong KEK, a missing KEK — specific errors, never wrong plaintext."""

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from confide.records.models import Patient
from confide.records.services import CHART
from confide.vault import checks, keys, kms
from confide.vault.allowance import allow
from confide.vault.errors import DecryptionFailed, KeyManagerError, KeyringMissing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_manager():
    kms.reset_key_manager()
    yield
    kms.reset_key_manager()


def _keyring_path():
    return kms.key_manager().path


def test_the_local_keyring_is_a_0600_file_outside_the_database(make_patient):
    make_patient()
    path = _keyring_path()
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_missing_keyring_with_encrypted_data_refuses_to_start(make_patient, settings, tmp_path, fresh_manager):
    make_patient()
    settings.DATA_DIR = tmp_path / "elsewhere"  # the keyring is not where the data expects it
    kms.reset_key_manager()
    problem = checks.keyring_problem()
    assert problem and "missing" in problem
    with pytest.raises(KeyringMissing):
        checks.assert_keyring_present()
    # and it was not silently re-created as an empty keyring
    assert not (tmp_path / "elsewhere" / "keyring" / "keyring.json").exists()


def test_reading_with_the_keyring_gone_is_a_specific_error(make_patient, settings, tmp_path, fresh_manager):
    patient = make_patient(email="x@example.test")
    settings.DATA_DIR = tmp_path / "elsewhere"
    kms.reset_key_manager()
    with allow(CHART), pytest.raises(KeyringMissing):
        Patient.objects.get(id=patient.id).email


def test_a_wrong_kek_never_returns_plaintext(make_patient, fresh_manager):
    patient = make_patient(email="x@example.test")
    path = _keyring_path()
    data = json.loads(path.read_text())
    original = path.read_text()
    other = kms.LocalKeyManager(path.parent / "other")
    other_id = other.create_kek("x")
    other_keyset = json.loads(other.path.read_text())["keks"][other_id]["keyset"]
    for entry in data["keks"].values():
        entry["keyset"] = other_keyset  # same ids, different key material
    path.write_text(json.dumps(data))
    kms.reset_key_manager()
    try:
        with allow(CHART), pytest.raises(DecryptionFailed, match="did not unwrap"):
            Patient.objects.get(id=patient.id).email
    finally:
        path.write_text(original)
        kms.reset_key_manager()


def test_env_key_manager_derives_keks_and_refuses_a_bad_master(monkeypatch, fresh_manager):
    monkeypatch.setenv("CONFIDE_KEY_MANAGER", "env")
    monkeypatch.setenv("CONFIDE_VAULT_MASTER_KEY", "too-short")
    kms.reset_key_manager()
    with pytest.raises(KeyManagerError):
        kms.key_manager()
    monkeypatch.setenv("CONFIDE_VAULT_MASTER_KEY", base64.urlsafe_b64encode(b"k" * 32).decode())
    kms.reset_key_manager()
    manager = kms.key_manager()
    kek = manager.kek_aead(manager.create_kek("practice-1"))
    assert kek.decrypt(kek.encrypt(b"data key", b"ad"), b"ad") == b"data key"
    with pytest.raises(KeyManagerError):
        manager.kek_aead("env:000000000000:practice-1")  # made from another master key
    monkeypatch.setenv("CONFIDE_KEY_MANAGER", "nonsense")
    kms.reset_key_manager()
    with pytest.raises(KeyManagerError, match="local, env or aws-kms"):
        kms.key_manager()


def test_keys_are_used_only_inside_their_practice_context(world):
    with pytest.raises(keys.VaultError):
        keys.subject_aead(world.a.practice.id, world.a.practice.id)


# --- several processes writing one keyring ------------------------------------------------------------
WRITER = """
import json, sys
from pathlib import Path
from tink import aead
aead.register()
from confide.vault.kms import LocalKeyManager

manager = LocalKeyManager(Path(sys.argv[1]))
sys.stdin.read(1)  # the start signal: every writer begins at the same moment
made, errors = [], []
for _ in range(int(sys.argv[2])):
    try:
        made.append(manager.create_kek(sys.argv[3]))
    except Exception as exc:
        errors.append(type(exc).__name__)
for kek_id in made[::2]:  # destroy every other one again: removals race with additions too
    try:
        manager.destroy_kek(kek_id)
    except Exception as exc:
        errors.append(type(exc).__name__)
print(json.dumps({"kept": made[1::2], "destroyed": made[::2], "errors": errors}))
"""


def test_keks_made_and_destroyed_by_several_processes_at_once_all_land_in_one_valid_keyring(tmp_path):
    """Issue 11 item 5: a fixed temporary file name and a lock that only covered threads made
    concurrent writers lose each other's KEKs (or crash on a temporary file another process had
    just renamed). Every write is now a read-modify-write under a file lock."""
    directory = tmp_path / "keyring"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), "16", f"practice-{n}"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        for n in range(6)
    ]
    for writer in writers:  # all started (imports done or nearly); release them together
        writer.stdin.write("go")
        writer.stdin.flush()
    results = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-2000:]
        results.append(json.loads(out))
    assert [r["errors"] for r in results] == [[]] * 6
    keyring = json.loads((directory / "keyring.json").read_text())  # valid JSON
    kept = {kek_id for r in results for kek_id in r["kept"]}
    destroyed = {kek_id for r in results for kek_id in r["destroyed"]}
    assert len(kept) == len(destroyed) == 6 * 8
    assert set(keyring["keks"]) == kept  # nothing lost, nothing destroyed came back
    assert sorted(p.name for p in directory.iterdir()) == ["keyring.json", "keyring.lock"]  # no temporary file left
    assert stat.S_IMODE(os.stat(directory / "keyring.json").st_mode) == 0o600
