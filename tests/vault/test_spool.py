"""`EncryptedSpool`: a temporary file that holds bytes encrypted under a key of its own and
reads them back, anywhere, block by block (SEC1: uploads never on disk in clear)."""

from __future__ import annotations

import io
import os

import pytest

from confide.vault.spool import BLOCK, TAG, EncryptedSpool, SpoolDamaged

DATA = bytes(range(256)) * 1000  # 256,000 bytes: three full blocks and a partial one


def _spool(data: bytes = DATA, chunk: int = 10_000) -> EncryptedSpool:
    spool = EncryptedSpool()
    for start in range(0, len(data), chunk):
        spool.write(data[start : start + chunk])
    return spool.seal()


def test_what_is_written_reads_back_from_anywhere():
    spool = _spool()
    assert spool.size == len(DATA) and spool.read() == DATA
    for offset in (0, 1, BLOCK - 1, BLOCK, BLOCK + 7, len(DATA) - 3):
        spool.seek(offset)
        assert spool.read(300) == DATA[offset : offset + 300]
    assert spool.seek(-10, os.SEEK_END) == len(DATA) - 10 and spool.read() == DATA[-10:]
    assert spool.seek(len(DATA) + 5) and spool.read(10) == b""


def test_the_disk_holds_ciphertext_only_and_every_spool_has_its_own_key():
    one, two = _spool(), _spool()
    on_disk = os.pread(one.disk_file.fileno(), 10 * BLOCK, 0)
    assert len(on_disk) == len(DATA) + 4 * TAG
    assert DATA[:64] not in on_disk and DATA[BLOCK : BLOCK + 64] not in on_disk
    assert on_disk != os.pread(two.disk_file.fileno(), 10 * BLOCK, 0)


def test_a_changed_block_is_refused_when_read():
    spool = _spool()
    os.pwrite(spool.disk_file.fileno(), b"\x00", BLOCK + TAG + 5)
    assert spool.read(BLOCK) == DATA[:BLOCK]
    with pytest.raises(SpoolDamaged):
        spool.read(BLOCK)


def test_no_file_descriptor_no_writes_after_sealing_and_closing_removes_it():
    spool = _spool()
    with pytest.raises(io.UnsupportedOperation):
        spool.fileno()
    with pytest.raises(io.UnsupportedOperation):
        spool.write(b"more")
    spool.close()
    assert spool.disk_file.closed and spool.closed


def test_while_writing_it_reports_its_end_and_refuses_to_seek():
    spool = EncryptedSpool()
    spool.write(b"abc")
    assert spool.tell() == 3 and spool.seek(0, os.SEEK_END) == 3
    with pytest.raises(io.UnsupportedOperation):
        spool.seek(0)
    assert spool.read() == b"abc"  # reading seals it


def test_an_empty_spool_reads_empty():
    assert EncryptedSpool().seal().read() == b""
