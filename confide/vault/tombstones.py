"""Shredded subjects, recorded outside the database.

Crypto-shredding deletes a subject's wrapped data key from the database. A database backup
taken earlier still holds that wrapped key; restoring it must not bring the subject back. So
every shred is also appended here, next to the keyring (never in the database, never in its
backups), and the vault refuses to unwrap a tombstoned subject's key whatever the database says.
One line per subject id; append-only; fsync'd before the shred commits.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()
_cache: dict[str, tuple[float, frozenset[str]]] = {}


def path() -> Path:
    return Path(settings.DATA_DIR) / "keyring" / "shredded.txt"


def record(subject_id: str) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _lock:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(f"{subject_id}\n")
            handle.flush()
            os.fsync(handle.fileno())


def shredded() -> frozenset[str]:
    target = path()
    try:
        mtime = target.stat().st_mtime_ns
    except FileNotFoundError:
        return frozenset()
    cached = _cache.get(str(target))
    if cached and cached[0] == mtime:
        return cached[1]
    subjects = frozenset(line.strip() for line in target.read_text().splitlines() if line.strip())
    _cache[str(target)] = (mtime, subjects)
    return subjects


def is_shredded(subject_id: str) -> bool:
    return str(subject_id) in shredded()
