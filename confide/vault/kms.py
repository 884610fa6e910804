"""Key managers: where key-encryption keys (KEKs) live. Never in the database.

The port is `KeyManager`: it creates a KEK for a practice and hands out a Tink `Aead` for a
KEK id, which the vault uses only to wrap and unwrap data keys. Adapters:

* `LocalKeyManager` (default): a keyring file under CONFIDE_DATA_DIR/keyring (0600), holding
  cleartext Tink keysets per KEK id. Created on first use, but never silently re-created when
  encrypted data already exists (see `confide.vault.checks`).
* `EnvKeyManager`: one master secret from CONFIDE_VAULT_MASTER_KEY(_FILE) (32 bytes, url-safe
  base64); each practice's KEK is derived from it with HKDF, so nothing is written to disk.
* `AwsKmsKeyManager` (confide/vault/kms_aws.py): each KEK is a KMS key; wrapping is a KMS
  Encrypt/Decrypt call with the associated data as encryption context.

Select with CONFIDE_KEY_MANAGER = local | env | aws-kms.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
import threading
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Protocol

import tink
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from tink import aead, secret_key_access

from confide.env import env_secret, env_str
from confide.vault.errors import KeyManagerError, KeyringMissing


class KeyManager(Protocol):
    name: str

    def create_kek(self, label: str) -> str:
        """Make a new KEK (for a practice; `label` is the practice id) and return its id."""

    def kek_aead(self, kek_id: str) -> aead.Aead:
        """The AEAD that wraps and unwraps data keys under KEK `kek_id`."""

    def destroy_kek(self, kek_id: str) -> None:
        """Forget a KEK (after rotation); wrapped keys under it can no longer be opened."""

    def exists(self) -> bool:
        """Whether the manager's own store is present (a missing keyring is not an empty one)."""

    # Optional: `keks_labelled(label) -> list[str]`, every KEK the manager holds for a label
    # (a practice id). Managers that have it let rotation find and remove KEKs a killed
    # rotation left unused (vault/rotation.py); the env manager stores nothing to list.


class LocalKeyManager:
    """KEKs as Tink AES-256-GCM keysets in one JSON file, mode 0600, written atomically.

    Several processes share the file (web workers, the task worker, `confide keys` runs for
    different practices at once), so every change is a read-modify-write under an exclusive
    `fcntl.flock` on `keyring.lock` beside it — a thread lock alone let two processes each read
    the file, add their KEK and write it back, the second erasing the first's. The new content
    goes to a temporary file of a unique name (a fixed name let one writer rename another's
    half-written file), fsync'd, renamed over the keyring, and the directory fsync'd. Readers
    need no lock: a rename is atomic, so they see the old file or the new one."""

    name = "local"
    LOCK_NAME = "keyring.lock"
    TEMP_PREFIX = ".keyring-"

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / "keyring.json"
        self._lock = threading.Lock()
        self._aeads: dict[str, aead.Aead] = {}

    def exists(self) -> bool:
        return self.path.exists()

    def _read(self) -> dict:
        if not self.path.exists():
            return {"version": 1, "keks": {}}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise KeyManagerError(f"keyring {self.path} is unreadable: {type(exc).__name__}") from None

    @contextmanager
    def _locked(self):
        """Exclusive, across threads and processes, for one read-modify-write of the keyring.
        A process that dies holding it releases it (the kernel drops a dead process's flocks)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            fd = os.open(self.directory / self.LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._remove_stale_temporaries()
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    def _remove_stale_temporaries(self) -> None:
        # Under the lock no writer is between creating and renaming its temporary file, so any
        # left is a dead writer's — and holds cleartext keysets: remove it.
        for leftover in self.directory.glob(f"{self.TEMP_PREFIX}*.tmp"):
            leftover.unlink(missing_ok=True)

    def _write(self, data: dict) -> None:
        """Call with the lock held (`_locked`)."""
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=self.TEMP_PREFIX, suffix=".tmp")  # created 0600
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)  # the rename itself survives a power cut
        finally:
            os.close(directory_fd)

    def create_kek(self, label: str) -> str:
        handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
        serialized = tink.proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
        kek_id = f"local:{secrets.token_hex(8)}"
        with self._locked():
            data = self._read()
            data["keks"][kek_id] = {"label": label, "keyset": base64.b64encode(serialized).decode()}
            self._write(data)
        return kek_id

    def kek_aead(self, kek_id: str) -> aead.Aead:
        cached = self._aeads.get(kek_id)
        if cached is not None:
            return cached
        if not self.path.exists():
            raise KeyringMissing(f"keyring {self.path} is missing")
        entry = self._read()["keks"].get(kek_id)
        if entry is None:
            raise KeyManagerError(f"KEK {kek_id} is not in the keyring")
        handle = tink.proto_keyset_format.parse(base64.b64decode(entry["keyset"]), secret_key_access.TOKEN)
        primitive = handle.primitive(aead.Aead)
        self._aeads[kek_id] = primitive
        return primitive

    def destroy_kek(self, kek_id: str) -> None:
        with self._locked():
            data = self._read()
            if data["keks"].pop(kek_id, None) is not None:
                self._write(data)
        self._aeads.pop(kek_id, None)

    def keks_labelled(self, label: str) -> list[str]:
        """The ids of every KEK in the keyring made for `label` (a practice id), sorted."""
        return sorted(kek_id for kek_id, entry in self._read()["keks"].items() if entry.get("label") == label)


class _HkdfAead(aead.Aead):
    """AES-256-GCM with a key derived from the master secret for one KEK id."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._gcm = AESGCM(key)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._gcm.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        try:
            return self._gcm.decrypt(ciphertext[:12], ciphertext[12:], associated_data)
        except Exception:
            raise tink.TinkError("decryption failed") from None


class EnvKeyManager:
    """KEKs derived from one master secret in the environment; nothing on disk."""

    name = "env"

    def __init__(self, master: bytes):
        if len(master) != 32:
            raise KeyManagerError("CONFIDE_VAULT_MASTER_KEY must be 32 bytes, url-safe base64")
        self._master = master
        self._fingerprint = hashlib.sha256(b"confide-kek-fingerprint" + master).hexdigest()[:12]

    def exists(self) -> bool:
        return True

    def create_kek(self, label: str) -> str:
        return f"env:{self._fingerprint}:{label}"

    def kek_aead(self, kek_id: str) -> aead.Aead:
        prefix, fingerprint, label = (kek_id.split(":", 2) + ["", ""])[:3]
        if prefix != "env" or fingerprint != self._fingerprint:
            raise KeyManagerError(f"KEK {kek_id} was not made from this master key")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"confide-kek:{label}".encode()).derive(self._master)
        return _HkdfAead(key)

    def destroy_kek(self, kek_id: str) -> None:
        raise KeyManagerError("derived KEKs cannot be destroyed one by one; rotate the master key")


@cache
def key_manager() -> KeyManager:
    kind = env_str("CONFIDE_KEY_MANAGER", "local")
    if kind == "local":
        return LocalKeyManager(Path(settings.DATA_DIR) / "keyring")
    if kind == "env":
        master = env_secret("CONFIDE_VAULT_MASTER_KEY")
        if not master:
            raise KeyManagerError("CONFIDE_KEY_MANAGER=env needs CONFIDE_VAULT_MASTER_KEY or CONFIDE_VAULT_MASTER_KEY_FILE")
        try:
            raw = base64.urlsafe_b64decode(master.encode())
        except ValueError:
            raise KeyManagerError("CONFIDE_VAULT_MASTER_KEY is not url-safe base64") from None
        return EnvKeyManager(raw)
    if kind == "aws-kms":
        from confide.vault.kms_aws import AwsKmsKeyManager

        return AwsKmsKeyManager.from_environment()
    raise KeyManagerError(f"CONFIDE_KEY_MANAGER must be local, env or aws-kms; got {kind!r}")


def reset_key_manager() -> None:
    """Forget the configured manager (tests switch between adapters)."""
    key_manager.cache_clear()

