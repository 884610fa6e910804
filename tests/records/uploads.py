"""Small uploads made here, for the file tests: real PNG and PDF bytes, no fixtures on disk."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def png_bytes(size=(8, 8), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def png_upload(name: str = "rash.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def pdf_upload(name: str = "referral.pdf") -> SimpleUploadedFile:
    body = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    return SimpleUploadedFile(name, body, content_type="application/pdf")


BOMB_SIDE = 9459  # the attack in issue 11: just under Pillow's own limit (89.5 million pixels)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.cache
def png_bomb_bytes(side: int = BOMB_SIDE) -> bytes:
    """A valid PNG of side × side black RGB pixels: ~260 KB on the wire (zeros compress about
    1000:1), over 1 GB once decoded and re-encoded. Written row by row, never whole in memory."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side * 3)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_bomb_upload(name: str = "rash.png", side: int = BOMB_SIDE) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bomb_bytes(side), content_type="image/png")
