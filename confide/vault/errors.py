"""Vault errors. Messages name ids and kinds of failure, never plaintext."""

from confide.core.errors import ConfideError


class VaultError(ConfideError):
    """Base class for every vault failure."""


class PHIAccessDenied(VaultError):
    """An encrypted field was read or written outside an allowance for its category."""


class DecryptionFailed(VaultError):
    """Ciphertext did not open: tampered, moved to another row/column, or the wrong key."""


class KeyringMissing(VaultError):
    """Encrypted data exists but the keyring that opens it is not where it should be."""


class KeyManagerError(VaultError):
    """The key manager (keyring, environment or KMS) refused or failed."""


class RefusedOperation(VaultError):
    """A query tried to filter, order or look up by ciphertext."""
