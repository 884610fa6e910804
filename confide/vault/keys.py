"""Data keys: create, wrap, unwrap, shred. The only code that touches key material.

Associated data binds each wrapped key to its practice, subject and version, so a wrapped key
copied onto another subject's row does not open.

Unwrapped subject keysets live in two caches. The allowance's (one request, one door) is
trusted for its life, as before. The process cache (`_process`) keeps them for
`CONFIDE_KEY_CACHE_SECONDS` (0: off) across requests, because unwrapping and parsing a keyset
costs more than the whole rest of a chart opening. An entry remembers the subject's key
`generation` (vault.models.SubjectKey) it was unwrapped at, and is used only when the caller
has read the subject's current generation in this allowance (`note_generation`: the chart
door reads it in the same query as the patient) and the two are equal. A shred or a
rotation bumps the generation in the database, so no process, this one or another, uses a
cached keyset after either has committed; a caller that has not read the generation (a path
outside the door) never uses the process cache. Entries are added only when the transaction
that read them commits: a key made in a transaction that rolls back is never cached.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid

import tink
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from tink import aead

from confide.core import tenancy
from confide.vault import tombstones
from confide.vault.allowance import current as current_allowance
from confide.vault.errors import DecryptionFailed, KeyManagerError, VaultError
from confide.vault.kms import key_manager
from confide.vault.models import PracticeKey, SubjectKey

logger = logging.getLogger(__name__)
AEAD_TEMPLATE = aead.aead_key_templates.AES256_GCM


class SubjectErased(VaultError):
    """The subject's data key was destroyed (crypto-shredded): their data is gone for good."""


def _cache() -> dict | None:
    allowance = current_allowance()
    return allowance.key_cache if allowance is not None else None


# --- the process cache of unwrapped subject keysets ----------------------------------------------
# (subject_id, version or None for "active") -> (generation, key version, primitive, expires at)
_process: dict[tuple[uuid.UUID, int | None], tuple[int, int, aead.Aead, float]] = {}
_process_lock = threading.Lock()
PROCESS_CACHE_MAX = 20_000  # entries; a full cache is emptied (a burst of cold reads, then warm again)


def _ttl() -> float:
    return float(getattr(settings, "CONFIDE_KEY_CACHE_SECONDS", 300))


def _subject_uuid(subject_id) -> uuid.UUID:
    return subject_id if isinstance(subject_id, uuid.UUID) else uuid.UUID(str(subject_id))


def note_generation(subject_id, generation: int | None) -> None:
    """Tell the current allowance the subject's key generation as just read from the database
    (the door reads it with the patient). Without it the process cache is not consulted."""
    cache = _cache()
    if cache is not None:
        cache[("g", _subject_uuid(subject_id))] = generation


def _process_get(subject_id: uuid.UUID, version: int | None, generation: int) -> tuple[int, aead.Aead] | None:
    entry = _process.get((subject_id, version))
    if entry is None:
        return None
    cached_generation, key_version, primitive, expires = entry
    if cached_generation != generation or time.monotonic() >= expires:
        with _process_lock:
            if _process.get((subject_id, version)) is entry:
                del _process[(subject_id, version)]
        return None
    return key_version, primitive


def _process_put(subject_id: uuid.UUID, versions: tuple, generation: int, result: tuple[int, aead.Aead]) -> None:
    ttl = _ttl()
    if ttl <= 0:
        return

    def put():
        expires = time.monotonic() + ttl
        with _process_lock:
            if len(_process) >= PROCESS_CACHE_MAX:
                _process.clear()
            for version in versions:
                _process[(subject_id, version)] = (generation, result[0], result[1], expires)

    # Only what a committed transaction read: a key made (or a rotation begun) in a transaction
    # that rolls back must not outlive it here.
    transaction.on_commit(put)


def forget_subject_everywhere(subject_id) -> None:
    """Drop a subject's keysets from this process's cache and the current allowance's."""
    subject_id = _subject_uuid(subject_id)
    with _process_lock:
        for key in [k for k in _process if k[0] == subject_id]:
            del _process[key]
    cache = _cache()
    if cache is not None:
        for key in [k for k in cache if k[0] in ("s", "g") and str(k[1]) == str(subject_id)]:
            del cache[key]


def clear_process_cache() -> None:
    with _process_lock:
        _process.clear()


def bump_generation(subject_id) -> int:
    """Every row of the subject to one past their largest generation, so every keyset of the
    subject cached at an older one, in any process, stops being used. Call it with the
    subject's key rows locked (rotation does); returns the new generation."""
    top = SubjectKey.objects.filter(subject_id=subject_id).aggregate(top=Max("generation"))["top"] or 0
    SubjectKey.objects.filter(subject_id=subject_id).update(generation=top + 1)
    return top + 1


def _require_context(practice_id: uuid.UUID) -> None:
    if tenancy.current_practice_id() != practice_id:
        # Keys are tenant-owned rows; reading another practice's keys is never what is meant.
        raise VaultError("vault keys are used only inside their own practice's context")


def _practice_ad(practice_id, purpose: str) -> bytes:
    return f"confide-practice-key|{practice_id}|{purpose}".encode()


def _subject_ad(practice_id, subject_id, version: int) -> bytes:
    return f"confide-subject-key|{practice_id}|{subject_id}|{version}".encode()


def ensure_practice_key(practice_id: uuid.UUID) -> PracticeKey:
    _require_context(practice_id)
    existing = PracticeKey.objects.filter(practice_id=practice_id).first()
    if existing is not None:
        return existing
    manager = key_manager()
    kek_id = manager.create_kek(str(practice_id))
    kek = manager.kek_aead(kek_id)
    data_keyset = tink.new_keyset_handle(AEAD_TEMPLATE)
    try:
        with transaction.atomic():
            return PracticeKey.objects.create(
                practice_id=practice_id,
                key_manager=manager.name,
                kek_id=kek_id,
                wrapped_data_keyset=tink.proto_keyset_format.serialize_encrypted(
                    data_keyset, kek, _practice_ad(practice_id, "data")
                ),
                wrapped_index_key=kek.encrypt(secrets.token_bytes(32), _practice_ad(practice_id, "index")),
            )
    except IntegrityError:
        # A parallel request made the practice's key first (its first visitors arriving at once:
        # PostgreSQL lets both see no row). Theirs is the key; the KEK made here wraps nothing.
        manager.destroy_kek(kek_id)
        return PracticeKey.objects.get(practice_id=practice_id)


def _kek_for(practice_key: PracticeKey) -> aead.Aead:
    manager = key_manager()
    if practice_key.key_manager != manager.name:
        raise KeyManagerError(
            f"practice {practice_key.practice_id} keys are under the {practice_key.key_manager} key manager, "
            f"but CONFIDE_KEY_MANAGER is {manager.name}"
        )
    return manager.kek_aead(practice_key.kek_id)


def practice_aead(practice_id: uuid.UUID) -> aead.Aead:
    cache = _cache()
    if cache is not None and ("p", practice_id) in cache:
        return cache[("p", practice_id)]
    practice_key = ensure_practice_key(practice_id)
    try:
        handle = tink.proto_keyset_format.parse_encrypted(
            bytes(practice_key.wrapped_data_keyset), _kek_for(practice_key), _practice_ad(practice_id, "data")
        )
    except tink.TinkError:
        logger.error("practice data key did not unwrap", extra={"practice_id": str(practice_id)})
        raise DecryptionFailed(f"practice {practice_id} data key did not unwrap (wrong KEK?)") from None
    primitive = handle.primitive(aead.Aead)
    if cache is not None:
        cache[("p", practice_id)] = primitive
    return primitive


def index_key(practice_id: uuid.UUID) -> bytes:
    cache = _cache()
    if cache is not None and ("i", practice_id) in cache:
        return cache[("i", practice_id)]
    practice_key = ensure_practice_key(practice_id)
    try:
        key = _kek_for(practice_key).decrypt(bytes(practice_key.wrapped_index_key), _practice_ad(practice_id, "index"))
    except tink.TinkError:
        raise DecryptionFailed(f"practice {practice_id} index key did not unwrap (wrong KEK?)") from None
    if cache is not None:
        cache[("i", practice_id)] = key
    return key


def _unwrap_subject(practice_id, row: SubjectKey, kek: aead.Aead | None = None) -> aead.Aead:
    kek = kek if kek is not None else _kek_for(ensure_practice_key(practice_id))
    try:
        handle = tink.proto_keyset_format.parse_encrypted(
            bytes(row.wrapped_keyset), kek, _subject_ad(practice_id, row.subject_id, row.version)
        )
    except tink.TinkError:
        logger.error("subject data key did not unwrap", extra={"object_id": str(row.subject_id)})
        raise DecryptionFailed(f"data key of subject {row.subject_id} v{row.version} did not unwrap") from None
    return handle.primitive(aead.Aead)


def new_subject_key(practice_id: uuid.UUID, subject_id: uuid.UUID, version: int, generation: int = 1) -> SubjectKey:
    practice_key = ensure_practice_key(practice_id)
    handle = tink.new_keyset_handle(AEAD_TEMPLATE)
    wrapped = tink.proto_keyset_format.serialize_encrypted(
        handle, _kek_for(practice_key), _subject_ad(practice_id, subject_id, version)
    )
    return SubjectKey.objects.create(
        practice_id=practice_id, subject_id=subject_id, version=version, wrapped_keyset=wrapped, generation=generation
    )


def subject_aead(practice_id: uuid.UUID, subject_id: uuid.UUID, version: int | None = None) -> tuple[int, aead.Aead]:
    """The AEAD of a subject's key: `version=None` is the active one (made on first use)."""
    _require_context(practice_id)
    cache = _cache()
    cache_key = ("s", subject_id, version)
    # A cached key was checked against the shredded list when it entered this allowance (one
    # request); a shred in this process drops it from the cache at once (shred_subject).
    if cache is not None and cache_key in cache:
        return cache[cache_key]
    if tombstones.is_shredded(str(subject_id)):
        raise SubjectErased(f"subject {subject_id} was erased")
    subject = _subject_uuid(subject_id)
    known = cache.get(("g", subject)) if cache is not None else None
    if known is not None:
        hit = _process_get(subject, version, known)
        if hit is not None:
            cache[cache_key] = hit
            cache[("s", subject_id, hit[0])] = hit
            return hit
    rows = list(SubjectKey.objects.filter(subject_id=subject_id).order_by("version"))  # one query, every version
    generation = max((r.generation for r in rows), default=None)
    if version is None:
        active = [r for r in rows if r.state == SubjectKey.State.ACTIVE]
        row = active[-1] if active else None
        if row is None:
            if rows:  # every version destroyed: shredded
                raise SubjectErased(f"subject {subject_id} was erased")
            row = new_subject_key(practice_id, subject_id, 1)
            generation = None  # made just now: cached from the next reading on
    else:
        row = next((r for r in rows if r.version == version), None)
        if row is None:
            raise DecryptionFailed(f"subject {subject_id} has no key version {version}")
    if row.wrapped_keyset is None:
        if any(r.wrapped_keyset is not None for r in rows):
            # Not a shred: this one version was destroyed by rotation while others live. A
            # value still under it is a rotation fault, and must not pass for an erasure.
            raise DecryptionFailed(f"subject {subject_id} key version {row.version} was retired by rotation")
        raise SubjectErased(f"subject {subject_id} was erased")
    result = (row.version, _unwrap_subject(practice_id, row))
    if cache is not None:
        cache[cache_key] = result
        cache[("s", subject_id, row.version)] = result
    if generation is not None:
        _process_put(subject, (version, row.version) if version is None else (version,), generation, result)
    return result


def prefetch_subject_keys(practice_id: uuid.UUID, subject_ids) -> None:
    """Unwrap the active keys of many subjects into the current allowance's cache with one
    query: a page of 25 patients costs one key lookup, not 25. Subjects with no key yet,
    shredded, or whose active version was retired are left to `subject_aead`, which raises or
    creates exactly as it always does. Outside an allowance this does nothing (no cache).
    The rows read carry the subjects' generations, so the process cache is used here too."""
    _require_context(practice_id)
    cache = _cache()
    if cache is None:
        return
    shredded = tombstones.shredded()
    wanted = {uuid.UUID(str(s)) for s in subject_ids}
    wanted = {s for s in wanted if ("s", s, None) not in cache and str(s) not in shredded}
    if not wanted:
        return
    newest: dict[uuid.UUID, SubjectKey] = {}
    rows = SubjectKey.objects.filter(subject_id__in=wanted, state=SubjectKey.State.ACTIVE).exclude(wrapped_keyset=None)
    for row in rows.order_by("subject_id", "version"):
        newest[row.subject_id] = row  # ascending versions: the last one seen is the newest
    kek = None
    for subject_id, row in newest.items():
        cache[("g", subject_id)] = row.generation  # every row of a subject carries its generation
        result = _process_get(subject_id, None, row.generation)
        if result is None or result[0] != row.version:
            if kek is None:
                kek = _kek_for(ensure_practice_key(practice_id))
            result = (row.version, _unwrap_subject(practice_id, row, kek))
            _process_put(subject_id, (None, row.version), row.generation, result)
        cache[("s", subject_id, None)] = result
        cache[("s", subject_id, row.version)] = result


def shred_subject(practice_id: uuid.UUID, subject_id: uuid.UUID) -> int:
    """Destroy every version of a subject's data key. Irreversible. Returns versions destroyed.

    The tombstone is written (and fsync'd) before the database change commits: if the process
    dies in between, the subject is already unreadable, which is the safe side to fail on."""
    _require_context(practice_id)
    tombstones.record(str(subject_id))
    forget_subject_everywhere(subject_id)
    # The generation bump is what tells the other processes: their cached keysets of this
    # subject stop matching the generation the door reads with the patient.
    return SubjectKey.objects.filter(subject_id=subject_id).update(
        wrapped_keyset=None, state=SubjectKey.State.DESTROYED, destroyed_at=timezone.now(), generation=F("generation") + 1
    )




# --- Rotation support (used by confide.vault.rotation) ---------------------------------------
# Re-wrapping stays here so this module remains the only code that handles unwrapped keys.


def rewrap_practice_keys(practice_key: PracticeKey, old_kek: aead.Aead, new_kek: aead.Aead) -> tuple[bytes, bytes]:
    """The practice's data keyset and index key, unwrapped with `old_kek` and wrapped with
    `new_kek` under the same associated data. Returns (wrapped data keyset, wrapped index key);
    nothing is saved."""
    practice_id = practice_key.practice_id
    try:
        handle = tink.proto_keyset_format.parse_encrypted(
            bytes(practice_key.wrapped_data_keyset), old_kek, _practice_ad(practice_id, "data")
        )
        index = old_kek.decrypt(bytes(practice_key.wrapped_index_key), _practice_ad(practice_id, "index"))
    except tink.TinkError:
        raise DecryptionFailed(f"practice {practice_id} keys did not unwrap under the current KEK") from None
    return (
        tink.proto_keyset_format.serialize_encrypted(handle, new_kek, _practice_ad(practice_id, "data")),
        new_kek.encrypt(index, _practice_ad(practice_id, "index")),
    )


def rewrap_subject_keyset(practice_id: uuid.UUID, row: SubjectKey, old_kek: aead.Aead, new_kek: aead.Aead) -> bytes:
    """One subject key version's keyset re-wrapped from `old_kek` to `new_kek` (same associated
    data). Nothing is saved."""
    ad = _subject_ad(practice_id, row.subject_id, row.version)
    try:
        handle = tink.proto_keyset_format.parse_encrypted(bytes(row.wrapped_keyset), old_kek, ad)
    except tink.TinkError:
        raise DecryptionFailed(f"data key of subject {row.subject_id} v{row.version} did not unwrap") from None
    return tink.proto_keyset_format.serialize_encrypted(handle, new_kek, ad)


def subject_keyset_opens(practice_id: uuid.UUID, row: SubjectKey, kek: aead.Aead) -> bool:
    """Whether this subject key version unwraps under `kek` (a check; the key is dropped)."""
    try:
        tink.proto_keyset_format.parse_encrypted(
            bytes(row.wrapped_keyset), kek, _subject_ad(practice_id, row.subject_id, row.version)
        )
    except tink.TinkError:
        return False
    return True


def forget_cached_subject(subject_id: uuid.UUID) -> None:
    """Drop a subject's unwrapped keys from the current allowance's cache and this process's
    (its versions changed; other processes learn it from the generation)."""
    forget_subject_everywhere(subject_id)
