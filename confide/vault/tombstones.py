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
# Keyed by (mtime, size): an append always grows the file, while two appends can land within one
# tick of the filesystem's clock and leave the mtime unchanged (seen: a shred was missed that way).
_cache: dict[str, tuple[tuple[int, int], frozenset[str]]] = {}


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
        _cache.pop(str(target), None)


def shredded() -> frozenset[str]:
    target = path()
    try:
        stat = target.stat()
    except FileNotFoundError:
        return frozenset()
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(str(target))
    if cached and cached[0] == version:
        return cached[1]
    subjects = frozenset(line.strip() for line in target.read_text().splitlines() if line.strip())
    _cache[str(target)] = (version, subjects)
    return subjects


def is_shredded(subject_id: str) -> bool:
    return str(subject_id) in shredded()
