"""Sealing of account secrets (TOTP keys) under the vault's platform data key (ACC2).

django-otp keeps TOTP secrets as clear hex in the database; anyone with a backup could mint
codes. Here they are sealed with the vault's platform key (Tink AES-256-GCM, wrapped by a KEK
that never enters the database), binding table, column and row as associated data so a sealed
secret pasted into another row does not open. Platform rather than practice key: one staff
account can belong to several practices, and its authenticator belongs to the person.
"""

from __future__ import annotations

import base64

import tink

VERSION = "pk1"


class SecretBoxError(Exception):
    """A sealed secret could not be opened (wrong key, wrong row, or tampered)."""


def _aad(table: str, column: str, row_id: str) -> bytes:
    return f"{table}\x1f{column}\x1f{row_id}".encode()


def seal(plaintext: bytes, *, table: str, column: str, row_id: str) -> str:
    from confide.vault.platform import platform_aead

    sealed = platform_aead().encrypt(plaintext, _aad(table, column, row_id))
    return f"{VERSION}:{base64.b64encode(sealed).decode()}"


def open_sealed(token: str, *, table: str, column: str, row_id: str) -> bytes:
    from confide.vault.platform import platform_aead

    prefix, _, body = token.partition(":")
    if prefix != VERSION:
        raise SecretBoxError("unknown secret format")
    try:
        return platform_aead().decrypt(base64.b64decode(body, validate=True), _aad(table, column, row_id))
    except (tink.TinkError, ValueError):
        raise SecretBoxError("secret could not be opened") from None
