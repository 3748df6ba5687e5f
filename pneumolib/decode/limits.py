"""The size limits every upload is held to, checked from headers before pixels are decoded.

One place for the numbers, so the HTTP layer (which refuses an oversized body before reading it)
and the decoders (which refuse an oversized image from its header) agree on them.
"""

from __future__ import annotations

from pneumolib.decode.errors import ImageTooLarge, UndecodableImage

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Uploads above 20 MB are refused; a chest X-ray as PNG or JPEG is rarely over 5 MB."""

DEFAULT_MAX_PIXELS = 40_000_000
"""40 megapixels: well above any radiograph (about 3000 x 3000), far below a memory problem."""


def megabytes(n: int) -> str:
    """Bytes as "12.3 MB", the unit error messages quote limits in."""
    return f"{n / (1024 * 1024):.1f} MB"


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image from its declared size, before anything is allocated for it."""
    if width <= 0 or height <= 0:
        raise UndecodableImage(
            f"The image header declares an empty image ({width} x {height} pixels). "
            "Export the X-ray again as PNG or JPEG."
        )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"The image is {width} x {height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {max_pixels / 1e6:g} megapixels. Downscale it (about 3000 x 3000 is "
            "plenty for a chest X-ray) and send it again."
        )
