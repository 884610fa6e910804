"""A temporary file for bytes that are too big to hold in memory and too private to hold on disk
in clear: an upload while its request is parsed, an image while it is re-encoded.

    spool = EncryptedSpool()
    spool.write(chunk) …                 # sequential writes only
    spool.seal()                         # then it is a read-only, seekable binary file
    spool.seek(0); spool.read(n) …
    spool.close()                        # the file and its key are gone

What reaches the disk is AES-256-GCM ciphertext in 64 KiB blocks, under a key made for this
spool alone that lives only in this object's memory; the nonce is the block's number (the key is
never reused), and each block's tag is checked as it is read back. The file is a
`tempfile.TemporaryFile`: on Linux it has no name in any directory from the start (O_TMPFILE,
or unlinked at once), so nothing is left behind when the process dies, and nobody can be handed
a path to it. Memory stays at one block being filled plus one block read back.

`fileno()` is refused on purpose: Pillow writes straight to a file descriptor when it has one,
which would put the plaintext on disk around the encryption."""

from __future__ import annotations

import io
import os
import tempfile

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

BLOCK = 64 * 1024
TAG = 16


class SpoolDamaged(OSError):
    """A block did not authenticate when read back (the temporary file was changed)."""


class EncryptedSpool(io.RawIOBase):
    def __init__(self) -> None:
        super().__init__()
        # Unbuffered: blocks go to the file descriptor at once (they are read back with pread).
        self.disk_file = tempfile.TemporaryFile(buffering=0, dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None))
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._pending = bytearray()  # the block being filled
        self._blocks = 0  # blocks written to disk
        self._size = 0
        self._sealed = False
        self._position = 0
        self._cached: tuple[int, bytes] | None = None  # (block number, plaintext)

    # --- writing: sequential, then sealed -------------------------------------------------------
    def writable(self) -> bool:
        return not self._sealed

    def write(self, data) -> int:
        if self._sealed:
            raise io.UnsupportedOperation("a sealed spool is read-only")
        self._pending += data
        self._size += len(data)
        while len(self._pending) >= BLOCK:
            self._put_block(bytes(self._pending[:BLOCK]))
            del self._pending[:BLOCK]
        return len(data)

    def seal(self) -> EncryptedSpool:
        """No more writes: the last partial block goes to disk and reading starts at 0."""
        if not self._sealed:
            if self._pending:
                self._put_block(bytes(self._pending))
                self._pending = bytearray()
            self._sealed = True
            self._position = 0
        return self

    def _nonce(self, number: int) -> bytes:
        return number.to_bytes(12, "big")

    def _put_block(self, plaintext: bytes) -> None:
        sealed = self._aead.encrypt(self._nonce(self._blocks), plaintext, None)
        written = os.pwrite(self.disk_file.fileno(), sealed, self._blocks * (BLOCK + TAG))
        if written != len(sealed):
            raise OSError("a temporary upload could not be written whole (disk full?)")
        self._blocks += 1

    # --- reading ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _block(self, number: int) -> bytes:
        if self._cached is None or self._cached[0] != number:
            length = min(BLOCK, self._size - number * BLOCK) + TAG
            sealed = os.pread(self.disk_file.fileno(), length, number * (BLOCK + TAG))
            try:
                self._cached = (number, self._aead.decrypt(self._nonce(number), sealed, None))
            except InvalidTag:
                raise SpoolDamaged("a temporary upload was changed on disk") from None
        return self._cached[1]

    def readinto(self, buffer) -> int:
        if not self._sealed:
            self.seal()
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._position < self._size:
            number, offset = divmod(self._position, BLOCK)
            block = self._block(number)
            n = min(len(view) - done, len(block) - offset)
            view[done : done + n] = block[offset : offset + n]
            done += n
            self._position += n
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if not self._sealed:
            if (offset, whence) in ((0, os.SEEK_CUR), (0, os.SEEK_END)):
                return self._size  # "where am I" while writing: at the end
            raise io.UnsupportedOperation("seal the spool before seeking")
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position if self._sealed else self._size

    def fileno(self) -> int:
        raise io.UnsupportedOperation("an encrypted spool has no file descriptor to write around it")

    def close(self) -> None:
        if not self.closed:
            self.disk_file.close()
            self._aead = None
            self._cached = None
            self._pending = bytearray()
        super().close()
