"""Turn an image file's bytes into the 8-bit grayscale array the model reads, or a clear error.

Uploads come from strangers and data folders hold whatever was copied into them, so this
module trusts nothing: the format is read from the bytes
(the file name and content type only earn a warning when they disagree), image dimensions are
checked from the header before any pixel is decoded (a small PNG can claim 100000 x 100000),
compressed DICOM datasets are measured before they are inflated, and every failure inside
Pillow, pydicom or numpy comes out as one of the :mod:`~pneumolib.decode.errors` classes.

What the model sees:

* 8-bit grayscale images pass through unchanged, because the training images (Kermany et al.
  JPEGs) are 8-bit and the model learnt their contrast.
* Colour becomes grayscale with Pillow's own ``convert("L")`` weights (ITU-R 601), the same
  conversion the training reader applies to the release's RGB JPEGs.
* Transparency is flattened onto black: an X-ray's background is dark, and the colours hidden
  under fully transparent pixels are arbitrary, so dropping alpha could reveal garbage.
* More than 8 bits (16-bit PNG, DICOM without a window) are mapped linearly from the image's
  own minimum and maximum to 0-255, as the training reader does for 16-bit files. A fixed
  shift (``>> 8``) would turn the usual 12-bit data in a 16-bit container nearly black.
* DICOM follows the standard display pipeline: modality LUT (rescale slope/intercept), then the
  first VOI window or VOI LUT, then MONOCHROME1 inversion so that bone is white.

Each such step that changes what the uploader sent is recorded in ``DecodedImage.warnings``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from pneumolib.decode.dicom import decode_dicom
from pneumolib.decode.errors import (
    EmptyUpload,
    ImageFileError,
    ImageTooLarge,
    UndecodableImage,
    UnsupportedMediaType,
    UploadTooLarge,
)
from pneumolib.decode.formats import FORMAT_NAMES, SUPPORTED_FORMATS, claim_warnings, sniff_format, unsupported_format
from pneumolib.decode.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, check_pixels, megabytes
from pneumolib.decode.pixels import channels_equal, finish_array
from pneumolib.decode.signatures import LOSSLESS_SOF, jpeg_frame_header, png_header

__all__ = [
    "DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "SUPPORTED_FORMATS", "DecodedImage", "decode_image",
    "sniff_format",
]


@dataclass(frozen=True, eq=False)  # arrays make field-wise == ambiguous
class DecodedImage:
    """A decoded upload: what the model reads, what a heatmap is drawn on, and what changed."""

    pixels: np.ndarray
    """(H, W) uint8 grayscale, ready for the model's own resizing and normalisation."""
    colour: np.ndarray | None
    """(H, W, 3) uint8 RGB when the upload has real colour; None when ``pixels`` is the picture."""
    source_format: str
    """"jpeg", "png" or "dicom", as detected from the bytes."""
    bit_depth: int
    """Bits per sample in the source (1, 8, 12, 16, ...), before any conversion."""
    warnings: list[str] = field(default_factory=list)
    """Plain-words notes on every conversion that altered the upload."""

    def __post_init__(self) -> None:
        # The invariants the model and the overlay code rely on, checked once here.
        p, c = self.pixels, self.colour
        if p.dtype != np.uint8 or p.ndim != 2 or min(p.shape) < 1:
            raise ValueError(f"pixels must be a non-empty 2-D uint8 array, got {p.dtype} {p.shape}")
        if c is not None and (c.dtype != np.uint8 or c.shape != (*p.shape, 3)):
            raise ValueError(f"colour must be None or uint8 {(*p.shape, 3)}, got {c.dtype} {c.shape}")

    @property
    def display(self) -> np.ndarray:
        """The upload as a person would see it: ``colour`` if any, else ``pixels`` (no copy)."""
        return self.pixels if self.colour is None else self.colour

    @property
    def rgb_display(self) -> np.ndarray:
        """:attr:`display` as (H, W, 3) uint8 RGB (a new array for grayscale uploads)."""
        if self.colour is not None:
            return self.colour
        return np.repeat(self.pixels[:, :, None], 3, axis=2)

    @property
    def height(self) -> int:
        """Rows of ``pixels``."""
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        """Columns of ``pixels``."""
        return int(self.pixels.shape[1])


def decode_image(
    data: bytes,
    filename: str | None = None,
    content_type: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode one PNG, JPEG or DICOM file (an upload, or a file read from disk).

    Raises only :class:`~pneumolib.decode.errors.ImageFileError` subclasses, whatever the bytes:
    the caller can answer with ``exc.status_code`` and ``exc.detail`` without a catch-all.
    """
    data = bytes(data)
    if not data:
        raise EmptyUpload()
    if len(data) > max_bytes:
        raise UploadTooLarge(
            f"The file is {megabytes(len(data))} but the limit is {megabytes(max_bytes)}. "
            "Send a smaller export of the X-ray (PNG or JPEG is usually a few MB)."
        )
    fmt = sniff_format(data)
    notes = claim_warnings(fmt, filename, content_type)
    if fmt not in SUPPORTED_FORMATS:
        raise unsupported_format(fmt)
    try:
        if fmt == "dicom":
            gray, colour, bits = decode_dicom(data, max_pixels, notes)
        else:
            gray, colour, bits = _decode_raster(data, fmt, max_pixels, notes)
        return DecodedImage(
            pixels=np.ascontiguousarray(gray),
            colour=None if colour is None else np.ascontiguousarray(colour),
            source_format=fmt,
            bit_depth=bits,
            warnings=notes,
        )
    except ImageFileError:
        raise
    except MemoryError as exc:
        raise ImageTooLarge(
            "The image is too large to decode on this server. Downscale it and send it again."
        ) from exc
    except Exception as exc:  # any decoder failure is the file's fault, not ours
        raise UndecodableImage(
            f"The file looks like {FORMAT_NAMES[fmt]} but could not be decoded; it may be "
            "truncated or corrupted. Export the X-ray again as PNG or JPEG and retry."
        ) from exc


# ---------------------------------------------------------------------------------------------
# PNG and JPEG (DICOM lives in :mod:`pneumolib.decode.dicom`)
# ---------------------------------------------------------------------------------------------


def _decode_raster(
    data: bytes, fmt: str, max_pixels: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Decode PNG or JPEG bytes into (gray, colour or None, bit depth)."""
    bits = 8
    png_colour = None
    if fmt == "png":
        header = png_header(data)
        if header is not None:
            width, height, bits, png_colour = header
            check_pixels(width, height, max_pixels)
    else:
        frame = jpeg_frame_header(data)
        if frame is not None:
            marker, bits, width, height = frame
            if height:  # 0 means "defined later by a DNL marker"; Pillow checks that case
                check_pixels(width, height, max_pixels)
            if marker in LOSSLESS_SOF:
                raise UnsupportedMediaType(
                    "Lossless JPEG (as used inside some medical software) cannot be decoded "
                    "here. Export the X-ray as PNG, as a baseline JPEG, or send the DICOM file."
                )
            if bits != 8:
                raise UnsupportedMediaType(
                    f"{bits}-bit JPEG cannot be decoded here; only 8-bit JPEG is supported. "
                    "Export the X-ray as a 16-bit PNG or send the DICOM file."
                )

    if fmt == "png" and bits == 16 and png_colour in (2, 4, 6):
        # Pillow keeps only the high byte of 16-bit colour PNGs; OpenCV keeps all 16 bits.
        arr = _decode_16bit_colour_png(data)
        if arr is not None:
            gray, colour = finish_array(arr, bits, has_alpha=png_colour in (4, 6), notes=notes)
            return gray, colour, bits

    with Image.open(io.BytesIO(data), formats=[fmt.upper()]) as im:
        check_pixels(im.width, im.height, max_pixels)
        im.load()
        im = _apply_exif_orientation(im, notes)
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            gray, colour = finish_array(np.array(im), bits, has_alpha=False, notes=notes)
        else:
            if fmt == "png" and bits == 16:
                notes.append("16-bit colour PNG reduced to its upper 8 bits by the decoder")
            gray, colour = _finish_pil(im, notes)
    return gray, colour, bits


def _decode_16bit_colour_png(data: bytes) -> np.ndarray | None:
    """All 16 bits of a colour PNG as (H, W, 3|4) RGB[A] via OpenCV, or None without OpenCV."""
    try:
        import cv2
    except ImportError:
        return None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise UndecodableImage(
            "The PNG file could not be decoded; it may be truncated or corrupted. "
            "Export the X-ray again and retry."
        )
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        order = [2, 1, 0, 3][: arr.shape[2]]
        arr = arr[..., order]
    return arr


def _apply_exif_orientation(im: Image.Image, notes: list[str]) -> Image.Image:
    """Rotate as the camera's EXIF tag says: phone photos of films often rely on it."""
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        notes.append("unreadable EXIF metadata ignored")
        return im
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        notes.append(f"image rotated/flipped as its EXIF orientation tag ({orientation}) says")
        return ImageOps.exif_transpose(im)
    return im


def _finish_pil(im: Image.Image, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """8-bit Pillow image -> (gray, colour or None), converting in Pillow's C code to save memory."""
    if im.mode in ("P", "PA"):
        has_alpha = im.mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{im.mode} image converted to RGB")
        im = im.convert("RGB")
    elif im.mode in ("La", "RGBa"):  # premultiplied alpha: already composited on black
        im = im.convert(im.mode[0] if im.mode == "La" else "RGB")

    if im.mode in ("LA", "RGBA"):
        base = "L" if im.mode == "LA" else "RGB"
        alpha = im.getchannel("A")
        flat = Image.new(base, im.size, 0)
        flat.paste(im.convert(base), mask=alpha)
        if alpha.getextrema()[0] < 255:
            notes.append("transparent areas flattened onto black")
        im = flat

    if im.mode == "L":
        return np.array(im), None
    if im.mode == "RGB":
        rgb = np.array(im)
        if channels_equal(rgb):
            return rgb[:, :, 0].copy(), None
        notes.append("colour image converted to grayscale")
        return np.array(im.convert("L")), rgb
    raise UnsupportedMediaType(
        f"Images with pixel mode '{im.mode}' are not supported. Export the X-ray as an "
        "ordinary 8-bit grayscale or RGB PNG or JPEG."
    )
