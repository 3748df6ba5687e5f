"""DICOM uploads through the standard grayscale display pipeline, defended against bombs.

Order of the pipeline (PS3.3 C.11): modality LUT (rescale slope/intercept), then the first VOI
window or VOI LUT (or min-max scaling when there is none), then MONOCHROME1 inversion so that
bone is white, as in the training images. Before pydicom inflates anything the declared sizes are
checked: a deflated dataset is measured in bounded steps and an encapsulated frame's codestream
header is read, because both can promise far more pixels than the file's header admits.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from pneumolib.decode.errors import ImageFileError, UndecodableImage, UnsupportedMediaType, UploadTooLarge
from pneumolib.decode.limits import check_pixels, megabytes
from pneumolib.decode.pixels import finish_array, stretch_to_uint8, unit_to_u8
from pneumolib.decode.signatures import codestream_size

_DEFLATED_UID = "1.2.840.10008.1.2.1.99"
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT", "YBR_PARTIAL_420")


def _file_meta_end(data: bytes) -> tuple[str | None, int | None]:
    """(transfer syntax UID, offset where the dataset starts) from the file meta group.

    Returns (None, None) when the group cannot be walked, (None, 0) when there is none.
    A tiny explicit-VR reader, so the transfer syntax is known before pydicom reads anything.
    """
    pos = 132 if data[128:132] == b"DICM" else 0
    if pos == 0 and data[:2] != b"\x02\x00":
        return None, 0
    uid: str | None = None
    n = len(data)
    while pos + 8 <= n:
        group, element = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            return uid, pos
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > n:
                return None, None
            (length,) = struct.unpack_from("<I", data, pos + 8)
            start = pos + 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            start = pos + 8
        if length == 0xFFFFFFFF or start + length > n:
            return None, None
        if element == 0x0010:
            uid = data[start : start + length].rstrip(b"\x00 ").decode("ascii", "replace")
        pos = start + length
    return uid, pos


def _inflates_within(payload: bytes, limit: int) -> bool:
    """Inflate in bounded steps, keeping nothing, and say whether the output fits ``limit``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total, pending = 0, payload
    while not inflater.eof:
        out = inflater.decompress(pending, 1 << 20)
        total += len(out)
        if total > limit:
            return False
        pending = inflater.unconsumed_tail
        if not out and not pending:
            break
    return True


def _guard_deflate(data: bytes, max_pixels: int) -> None:
    """Refuse a deflated DICOM whose dataset would inflate beyond what an image can need.

    pydicom inflates a deflated dataset in one call with no size limit, so a 20 MB upload could
    become gigabytes; the size is measured here first, in bounded steps.
    """
    uid, start = _file_meta_end(data)
    if uid is None and start is None and _DEFLATED_UID.encode() in data:
        raise UndecodableImage(
            "The DICOM file header is malformed. Export the image again from the PACS or viewer."
        )
    if uid != _DEFLATED_UID or start is None:
        return
    limit = 4 * max_pixels + (1 << 20)
    if not _inflates_within(data[start:], limit):
        raise UploadTooLarge(
            f"The deflate-compressed DICOM expands to more than {megabytes(limit)}. Send an "
            "uncompressed DICOM, PNG or JPEG of the X-ray instead."
        )


def decode_dicom(
    data: bytes, max_pixels: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Decode the first frame of a DICOM file through the standard grayscale pipeline."""
    import pydicom
    from pydicom.encaps import generate_frames
    from pydicom.pixels import get_decoder

    if data.startswith(b"DICM"):  # magic without preamble: give pydicom the layout it expects
        data = bytes(128) + data
    _guard_deflate(data, max_pixels)
    ds = pydicom.dcmread(io.BytesIO(data), force=True)

    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise _no_pixel_data(ds)
    rows, columns = int(ds.Rows), int(ds.Columns)
    check_pixels(columns, rows, max_pixels)
    syntax = _transfer_syntax(ds, notes)
    if syntax.is_encapsulated:
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            available = False
        if not available:
            raise UnsupportedMediaType(
                f"The DICOM file is compressed with '{syntax.name}' ({syntax}), which this "
                "server cannot decode. Re-export it uncompressed (Explicit VR Little Endian) "
                "or as PNG, and send it again."
            )
        frames_declared = int(ds.get("NumberOfFrames", 1) or 1)
        first = next(generate_frames(ds.PixelData, number_of_frames=frames_declared), b"")
        size = codestream_size(first)
        if size is not None:
            check_pixels(size[0], size[1], max_pixels)

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        notes.append(f"multi-frame DICOM ({frames} frames): only the first frame was used")
    ds.pixel_array_options(index=0)
    arr = ds.pixel_array
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bits = int(ds.get("BitsStored", 0) or ds.get("BitsAllocated", 8))

    if photometric in _MONOCHROME:
        if arr.ndim == 3:  # defensive: some decoders keep a frame axis
            arr = arr[0]
        gray = _dicom_grayscale(arr, ds, bits, notes)
        if photometric == "MONOCHROME1":
            np.subtract(255, gray, out=gray)
            notes.append("MONOCHROME1 image inverted so that bone is white")
        return gray, np.repeat(gray[:, :, None], 3, axis=2), bits
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    elif photometric not in _COLOUR:
        raise UnsupportedMediaType(
            f"DICOM photometric interpretation '{photometric}' is not supported. Send a "
            "MONOCHROME1, MONOCHROME2 or RGB image."
        )
    gray, colour = finish_array(arr, bits, has_alpha=False, notes=notes)
    return gray, colour, bits


def _no_pixel_data(ds: Any) -> ImageFileError:
    """415 for a DICOM object that is not an image (a report, say); 400 for a damaged image."""
    from pydicom.uid import UID

    meta = getattr(ds, "file_meta", None)
    sop_class = ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else None)
    name = UID(str(sop_class)).name if sop_class else ""
    if name and name != str(sop_class) and "Image" not in name:
        return UnsupportedMediaType(
            f"The DICOM file is a '{name}' object, which holds no image. Send the DICOM file "
            "of the X-ray image itself."
        )
    return UndecodableImage(
        "The DICOM file has no pixel data; it may be truncated or damaged. Export the image "
        "again from the PACS or viewer and retry."
    )


def _transfer_syntax(ds: Any, notes: list[str]) -> Any:
    """The dataset's transfer syntax; a file without file meta gets the encoding it was read in."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is None:
        implicit, little = ds.original_encoding
        syntax = ImplicitVRLittleEndian if implicit else (
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )
        if meta is None:
            ds.file_meta = meta = FileMetaDataset()
        meta.TransferSyntaxUID = syntax
        notes.append(f"DICOM file without a transfer syntax; read as {syntax.name}")
    syntax = UID(str(syntax))
    if not syntax.is_transfer_syntax:
        raise UnsupportedMediaType(
            f"The DICOM transfer syntax '{syntax}' is not one this server knows. Re-export the "
            "file uncompressed (Explicit VR Little Endian) or as PNG."
        )
    return syntax


def _first(value: Any) -> tuple[float, bool]:
    """First number of a possibly multi-valued DICOM attribute, and whether there were more."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return float(value[0]), len(value) > 1
    return float(value), False


def _dicom_grayscale(arr: np.ndarray, ds: Any, bits: int, notes: list[str]) -> np.ndarray:
    """Modality LUT, then VOI window or LUT (or min-max), to uint8; MONOCHROME1 not yet inverted."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values: np.ndarray = arr
    rescaled = False
    if "ModalityLUTSequence" in ds:
        values = apply_modality_lut(arr, ds)
        rescaled = True
    elif ds.get("RescaleSlope") is not None or ds.get("RescaleIntercept") is not None:
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        if not (np.isfinite(slope) and np.isfinite(intercept)):
            raise UndecodableImage("The DICOM rescale slope or intercept is not a number.")
        if (slope, intercept) != (1.0, 0.0):
            values = arr.astype(np.float32) * np.float32(slope) + np.float32(intercept)
            rescaled = True

    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre not in (None, "") and width not in (None, ""):
        c, more_c = _first(centre)
        w, more_w = _first(width)
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        unit = _window(values, c, w, function)
        if unit is not None:
            if more_c or more_w:
                notes.append("the DICOM file lists several display windows; the first was used")
            return unit_to_u8(unit)
        notes.append(f"invalid DICOM window (centre {c:g}, width {w:g}) ignored")
    elif "VOILUTSequence" in ds:
        item = ds.VOILUTSequence[0]
        lut_bits = int(item.LUTDescriptor[2])
        if len(ds.VOILUTSequence) > 1:
            notes.append("the DICOM file lists several VOI LUTs; the first was used")
        out = apply_voi_lut(np.rint(values).astype(np.int64), ds, index=0, prefer_lut=True)
        return unit_to_u8(out.astype(np.float32) / np.float32(2**lut_bits - 1))

    if values.dtype == np.uint8 and not rescaled:
        return np.array(values)
    notes.append(
        f"{bits}-bit DICOM without a display window: its value range was mapped to 0-255"
    )
    return stretch_to_uint8(values)


def _window(values: np.ndarray, c: float, w: float, function: str) -> np.ndarray | None:
    """DICOM VOI window (PS3.3 C.11.2.1.2) as values in 0..1, or None for an invalid width."""
    if not (np.isfinite(c) and np.isfinite(w)):
        return None
    x = np.asarray(values, dtype=np.float32)
    if function == "SIGMOID":
        if w <= 0:
            return None
        with np.errstate(over="ignore"):  # exp overflow is just "far below the window": 0
            return 1.0 / (1.0 + np.exp(np.float32(-4.0 / w) * (x - np.float32(c))))
    if function == "LINEAR_EXACT":
        if w <= 0:
            return None
        return np.clip((x - np.float32(c)) / np.float32(w) + np.float32(0.5), 0, 1)
    if w < 1:  # LINEAR (the default) needs width >= 1
        return None
    if w == 1:  # a threshold: the formula's (w - 1) denominator would be zero
        return (x > np.float32(c - 0.5)).astype(np.float32)
    return np.clip((x - np.float32(c - 0.5)) / np.float32(w - 1) + np.float32(0.5), 0, 1)
