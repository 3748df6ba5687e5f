"""Image dimensions read straight from PNG, JPEG and JPEG 2000 headers.

A small file can declare a huge image (a 1 kB PNG may claim 100000 x 100000 pixels), so the
decoders read the declared size here and refuse it before any decoder allocates memory.
"""

from __future__ import annotations

import struct


def png_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(width, height, bit depth, colour type) from the IHDR chunk, or None if malformed."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack_from(">IIBB", data, 16)
    return width, height, depth, colour


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
LOSSLESS_SOF = frozenset({0xC3, 0xC7, 0xCB, 0xCF})


def jpeg_frame_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(SOF marker, precision, width, height) from the first frame header, or None.

    Walks the marker segments up to the first SOF so that the size is known before Pillow
    allocates anything; the scan stops at the first start-of-scan.
    """
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        if marker in _SOF_MARKERS:
            if pos + 9 > n:
                return None
            precision = data[pos + 4]
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return marker, precision, width, height
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return None
        pos += 2 + length
    return None


def codestream_size(fragment: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG or JPEG 2000 codestream's header, or None."""
    if fragment.startswith(b"\xff\xd8"):
        frame = jpeg_frame_header(fragment)
        return (frame[2], frame[3]) if frame else None
    at = fragment.find(b"\xff\x4f\xff\x51", 0, 4096)  # SOC + SIZ, possibly inside a JP2 box
    if at >= 0 and at + 24 <= len(fragment):
        xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">IIII", fragment, at + 8)
        return max(xsiz - xosiz, 0), max(ysiz - yosiz, 0)
    return None
