"""Data keys: create, wrap, unwrap, shred. The only code that touches key material.

Associated data binds each wrapped key to its practice, subject and version, so a wrapped key
copied onto another subject's row does not open.
"""

from __future__ import annotations

import logging
import secrets
import uuid

import tink
from django.db import IntegrityError, transaction
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


def new_subject_key(practice_id: uuid.UUID, subject_id: uuid.UUID, version: int) -> SubjectKey:
    practice_key = ensure_practice_key(practice_id)
    handle = tink.new_keyset_handle(AEAD_TEMPLATE)
    wrapped = tink.proto_keyset_format.serialize_encrypted(
        handle, _kek_for(practice_key), _subject_ad(practice_id, subject_id, version)
    )
    return SubjectKey.objects.create(practice_id=practice_id, subject_id=subject_id, version=version, wrapped_keyset=wrapped)


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
    rows = SubjectKey.objects.filter(subject_id=subject_id)
    if version is None:
        row = rows.filter(state=SubjectKey.State.ACTIVE).order_by("-version").first()
        if row is None:
            if rows.exists():  # every version destroyed: shredded
                raise SubjectErased(f"subject {subject_id} was erased")
            row = new_subject_key(practice_id, subject_id, 1)
    else:
        row = rows.filter(version=version).first()
        if row is None:
            raise DecryptionFailed(f"subject {subject_id} has no key version {version}")
    if row.wrapped_keyset is None:
        if rows.exclude(wrapped_keyset=None).exists():
            # Not a shred: this one version was destroyed by rotation while others live. A
            # value still under it is a rotation fault, and must not pass for an erasure.
            raise DecryptionFailed(f"subject {subject_id} key version {row.version} was retired by rotation")
        raise SubjectErased(f"subject {subject_id} was erased")
    result = (row.version, _unwrap_subject(practice_id, row))
    if cache is not None:
        cache[cache_key] = result
        cache[("s", subject_id, row.version)] = result
    return result


def prefetch_subject_keys(practice_id: uuid.UUID, subject_ids) -> None:
    """Unwrap the active keys of many subjects into the current allowance's cache with one
    query: a page of 25 patients costs one key lookup, not 25. Subjects with no key yet,
    shredded, or whose active version was retired are left to `subject_aead`, which raises or
    creates exactly as it always does. Outside an allowance this does nothing (no cache)."""
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
    kek = _kek_for(ensure_practice_key(practice_id)) if newest else None
    for subject_id, row in newest.items():
        result = (row.version, _unwrap_subject(practice_id, row, kek))
        cache[("s", subject_id, None)] = result
        cache[("s", subject_id, row.version)] = result


def shred_subject(practice_id: uuid.UUID, subject_id: uuid.UUID) -> int:
    """Destroy every version of a subject's data key. Irreversible. Returns versions destroyed.

    The tombstone is written (and fsync'd) before the database change commits: if the process
    dies in between, the subject is already unreadable, which is the safe side to fail on."""
    _require_context(practice_id)
    tombstones.record(str(subject_id))
    cache = _cache()
    if cache is not None:
        for key in [k for k in cache if k[0] == "s" and k[1] == subject_id]:
            del cache[key]
    return SubjectKey.objects.filter(subject_id=subject_id).update(
        wrapped_keyset=None, state=SubjectKey.State.DESTROYED, destroyed_at=timezone.now()
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
    """Drop a subject's unwrapped keys from the current allowance's cache (its versions changed)."""
    cache = _cache()
    if cache is not None:
        for key in [k for k in cache if k[0] == "s" and str(k[1]) == str(subject_id)]:
            del cache[key]
