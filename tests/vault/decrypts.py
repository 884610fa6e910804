"""Counting Tink decryptions by the column they open (for tests that a value is opened once)."""

import pytest
from tink.aead import _aead_wrapper


@pytest.fixture
def decrypts(monkeypatch) -> list[bytes]:
    """The associated data of every Tink decryption from here on; `opened(decrypts, table,
    column)` counts those of one column (a field's associated data starts with both)."""
    seen: list[bytes] = []
    real = _aead_wrapper._WrappedAead.decrypt

    def counting(self, ciphertext, associated_data):
        seen.append(associated_data)
        return real(self, ciphertext, associated_data)

    monkeypatch.setattr(_aead_wrapper._WrappedAead, "decrypt", counting)
    return seen


def opened(seen: list[bytes], table: str, column: str) -> int:
    return sum(1 for ad in seen if ad.startswith(f"{table}\x1f{column}\x1f".encode()))
