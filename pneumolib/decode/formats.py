"""What kind of file an upload is, judged from its bytes, and what to tell a client about it.

Browsers and scripts often send a wrong file name or content type, so only the first bytes
decide the format; a name or type that disagrees earns a warning, never a refusal.
"""

from __future__ import annotations

import codecs
import os
import struct
from pathlib import Path

from pneumolib.decode.errors import ImageFileError, UndecodableImage, UnsupportedMediaType

SUPPORTED_FORMATS = ("jpeg", "png", "dicom")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".dcm", ".dicom")
"""File-name endings of the supported formats, for listing a folder (decoding still sniffs the bytes)."""

FORMAT_NAMES = {
    "jpeg": "JPEG", "png": "PNG", "dicom": "DICOM", "gif": "GIF", "pdf": "PDF", "bmp": "BMP",
    "tiff": "TIFF", "webp": "WebP", "heif": "HEIF/AVIF (or a video)", "jpeg2000": "JPEG 2000",
    "zip": "ZIP archive", "gzip": "gzip archive", "text": "text",
}

_EXTENSIONS = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg", ".png": "png",
    ".dcm": "dicom", ".dicom": "dicom", ".dic": "dicom", ".gif": "gif", ".pdf": "pdf",
    ".bmp": "bmp", ".tif": "tiff", ".tiff": "tiff", ".webp": "webp", ".heic": "heif",
    ".avif": "heif", ".jp2": "jpeg2000", ".j2k": "jpeg2000", ".zip": "zip", ".gz": "gzip",
    ".txt": "text", ".csv": "text", ".json": "text", ".html": "text", ".svg": "text",
}

_CONTENT_TYPES = {
    "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/pjpeg": "jpeg", "image/png": "png",
    "application/dicom": "dicom", "image/dicom": "dicom", "image/gif": "gif",
    "application/pdf": "pdf", "image/bmp": "bmp", "image/tiff": "tiff", "image/webp": "webp",
    "image/heic": "heif", "image/avif": "heif", "image/jp2": "jpeg2000",
    "application/zip": "zip", "application/gzip": "gzip", "text/plain": "text",
    "text/html": "text", "text/csv": "text", "application/json": "text", "image/svg+xml": "text",
}


def sniff_format(data: bytes) -> str:
    """Name the file format from its first bytes ("jpeg", "png", "dicom", "gif", ... "unknown").

    Only the bytes decide: browsers and scripts often send a wrong name or content type.
    """
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[128:132] == b"DICM" or head.startswith(b"DICM") or _looks_like_bare_dicom(data):
        return "dicom"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "heif"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "jpeg2000"
    if head.startswith(b"BM") and len(data) >= 26:
        return "bmp"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if _looks_like_text(data):
        return "text"
    return "unknown"


def _looks_like_bare_dicom(data: bytes) -> bool:
    """A DICOM dataset written without preamble or magic starts with a group 2 or 8 element."""
    if len(data) < 8:
        return False
    group, element = struct.unpack_from("<HH", data, 0)
    return group in (0x0002, 0x0008) and element <= 0x00FF


def _looks_like_text(data: bytes) -> bool:
    """True when the start decodes as UTF-8 and is almost all printable characters."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:4096], final=False)
    except UnicodeDecodeError:
        return False
    if not text:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in text)
    return printable >= 0.95 * len(text)


def unsupported_format(fmt: str) -> ImageFileError:
    """The error for anything that is not PNG, JPEG or DICOM."""
    if fmt == "unknown":
        return UndecodableImage(
            "The file is not a recognisable image (not PNG, JPEG or DICOM); it may be "
            "corrupted. Send the chest X-ray as PNG, JPEG or DICOM."
        )
    if fmt == "text":
        return UnsupportedMediaType(
            "The file is text, not an image. Send the chest X-ray as PNG, JPEG or DICOM."
        )
    if fmt == "pdf":
        return UnsupportedMediaType(
            "The file is a PDF document, not an image. Export the X-ray itself as PNG, JPEG "
            "or DICOM and send that."
        )
    return UnsupportedMediaType(
        f"{FORMAT_NAMES[fmt]} files are not supported. Convert the X-ray to PNG or JPEG, "
        "or send the original DICOM file."
    )


def claim_warnings(fmt: str, filename: str | None, content_type: str | None) -> list[str]:
    """Warnings for a file name or content type that names another format than the bytes."""
    notes: list[str] = []
    if filename:
        ext = os.path.splitext(filename)[1].lower()
        claimed = _EXTENSIONS.get(ext)
        if claimed and claimed != fmt:
            notes.append(
                f"the file name ends in '{ext}' but the content is {FORMAT_NAMES.get(fmt, fmt)}; "
                "the content was trusted"
            )
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        claimed = _CONTENT_TYPES.get(mime)
        if claimed and claimed != fmt:
            notes.append(
                f"the content type '{mime}' does not match the content "
                f"({FORMAT_NAMES.get(fmt, fmt)}); the content was trusted"
            )
    return notes


def image_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The JPEG, PNG and DICOM files in ``folder`` (and below it with ``recursive``), sorted."""
    found = Path(folder).rglob("*") if recursive else Path(folder).iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
