"""Encryption of practice-owned secrets (TOTP keys) with an application-level key.

django-otp keeps TOTP secrets as clear hex in the database; anyone with a backup could mint
codes. Until the vault issue provides per-practice data keys, secrets are sealed here with
AES-256-GCM under one application key, binding the table, column and row as associated data so
a ciphertext pasted into another row does not open. The key comes from CONFIDE_APP_KEY(_FILE)
or a 0600 file under CONFIDE_DATA_DIR created on first use; it is never in the database.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from confide.env import env_secret

VERSION = b"sb1"  # ciphertext format/key generation prefix, so the vault can migrate these later


class SecretBoxError(Exception):
    """A sealed secret could not be opened (wrong key, wrong row, or tampered)."""


@cache
def _key() -> bytes:
    configured = env_secret("CONFIDE_APP_KEY")
    if configured:
        raw = base64.urlsafe_b64decode(configured.encode())
    else:
        path = Path(settings.DATA_DIR) / "app.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)))
        raw = base64.urlsafe_b64decode(path.read_bytes().strip())
    if len(raw) != 32:
        raise ImproperlyConfigured("CONFIDE_APP_KEY must be 32 bytes, url-safe base64 encoded")
    return raw


def _aad(table: str, column: str, row_id: str) -> bytes:
    return f"{table}\x1f{column}\x1f{row_id}".encode()


def seal(plaintext: bytes, *, table: str, column: str, row_id: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key()).encrypt(nonce, plaintext, _aad(table, column, row_id))
    return (VERSION + b":" + base64.urlsafe_b64encode(nonce + sealed)).decode()


def open_sealed(token: str, *, table: str, column: str, row_id: str) -> bytes:
    prefix, _, body = token.encode().partition(b":")
    if prefix != VERSION:
        raise SecretBoxError("unknown secret format")
    try:
        blob = base64.urlsafe_b64decode(body)
        return AESGCM(_key()).decrypt(blob[:12], blob[12:], _aad(table, column, row_id))
    except Exception:  # InvalidTag, binascii.Error: the same answer for every kind of bad input
        raise SecretBoxError("secret could not be opened") from None
