"""The platform data key: for secrets that belong to the installation rather than to one
practice — staff TOTP secrets, since one staff account may work in several practices.

One row (`PlatformKey`), a Tink AES-256-GCM keyset wrapped by a KEK from the same key manager
as the practices' (label "platform"). Like every data key it never leaves the process unwrapped.
"""

from __future__ import annotations

import threading

import tink
from django.db import IntegrityError, transaction
from tink import aead

from confide.vault.errors import DecryptionFailed
from confide.vault.kms import key_manager

_AD = b"confide-platform-key|data"
_lock = threading.Lock()
_cached: dict[str, aead.Aead] = {}


def platform_aead() -> aead.Aead:
    from confide.vault.models import PlatformKey

    row = PlatformKey.objects.filter(id=1).first()
    if row is None:
        row = _create()
    cache_key = f"{row.kek_id}:{row.updated_at.isoformat()}"
    cached = _cached.get(cache_key)
    if cached is not None:
        return cached
    manager = key_manager()
    try:
        handle = tink.proto_keyset_format.parse_encrypted(bytes(row.wrapped_keyset), manager.kek_aead(row.kek_id), _AD)
    except tink.TinkError:
        raise DecryptionFailed("the platform data key did not unwrap (wrong KEK?)") from None
    primitive = handle.primitive(aead.Aead)
    with _lock:
        _cached.clear()
        _cached[cache_key] = primitive
    return primitive


def _create():
    from confide.vault.models import PlatformKey

    manager = key_manager()
    kek_id = manager.create_kek("platform")
    handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
    wrapped = tink.proto_keyset_format.serialize_encrypted(handle, manager.kek_aead(kek_id), _AD)
    try:
        with transaction.atomic():
            return PlatformKey.objects.create(id=1, key_manager=manager.name, kek_id=kek_id, wrapped_keyset=wrapped)
    except IntegrityError:  # another process made it first: use theirs
        return PlatformKey.objects.get(id=1)


def forget_cached_key() -> None:
    with _lock:
        _cached.clear()
