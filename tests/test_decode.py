"""Tests for pneumolib.decode.image: every input kind, every client error, and a fuzz test."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from dicom_fixtures import (
    LAYOUTS,
    compressed_dicom_bytes,
    deflate_bomb_dicom_bytes,
    dicom_bytes,
    report_dicom_bytes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
)

import pneumolib.decode.image as decode_module
from pneumolib.decode.errors import (
    EmptyUpload,
    ImageFileError,
    ImageTooLarge,
    NotAChestXray,
    UndecodableImage,
    UnsupportedMediaType,
    UploadTooLarge,
)
from pneumolib.decode.image import DecodedImage, decode_image, sniff_format

RNG = np.random.default_rng(7)
RAMP = np.add.outer(np.arange(40) * 3, np.arange(52) * 2).astype(np.uint8)  # 40 x 52, 0..222
COLOUR = RNG.integers(0, 256, (40, 52, 3), dtype=np.uint8)


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed-looking PNG whose IHDR claims ``width`` x ``height``."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def jpeg_with_frame(data: bytes, *, width: int | None = None, height: int | None = None,
                    precision: int | None = None) -> bytes:
    """Rewrite the SOF0 header of a baseline JPEG."""
    out = bytearray(data)
    at = out.find(b"\xff\xc0")
    assert at > 0
    if precision is not None:
        out[at + 4] = precision
    if height is not None:
        out[at + 5 : at + 7] = struct.pack(">H", height)
    if width is not None:
        out[at + 7 : at + 9] = struct.pack(">H", width)
    return bytes(out)


def dicom_claiming(rows: int, columns: int) -> bytes:
    """A 4 x 4 DICOM whose Rows and Columns elements are patched to claim a larger size."""
    data = dicom_bytes(np.zeros((4, 4), np.uint16))
    for element, value in ((0x0010, rows), (0x0011, columns)):
        old = struct.pack("<HH2sHH", 0x0028, element, b"US", 2, 4)
        assert data.count(old) == 1
        data = data.replace(old, struct.pack("<HH2sHH", 0x0028, element, b"US", 2, value))
    return data


def assert_valid(result: DecodedImage) -> None:
    assert result.pixels.dtype == np.uint8 and result.pixels.ndim == 2
    assert result.rgb_display.dtype == np.uint8
    assert result.rgb_display.shape == (*result.pixels.shape, 3)
    assert result.source_format in ("jpeg", "png", "dicom")
    assert all(isinstance(w, str) and w for w in result.warnings)


# ---------------------------------------------------------------------------------------------
# JPEG and PNG
# ---------------------------------------------------------------------------------------------


def test_grayscale_jpeg_decodes_close_to_original() -> None:
    result = decode_image(encode(Image.fromarray(RAMP), "JPEG", quality=95), "x.jpg", "image/jpeg")
    assert_valid(result)
    assert result.source_format == "jpeg" and result.bit_depth == 8
    assert result.pixels.shape == RAMP.shape
    assert np.abs(result.pixels.astype(int) - RAMP).max() <= 3
    assert np.array_equal(result.rgb_display[..., 0], result.pixels)
    assert result.colour is None and result.display is result.pixels  # no RGB copy is kept
    assert result.warnings == []


def test_colour_jpeg_becomes_pillow_grayscale_and_keeps_colour_for_display() -> None:
    data = encode(Image.fromarray(COLOUR), "JPEG", quality=90)
    result = decode_image(data)
    with Image.open(io.BytesIO(data)) as im:
        expected_rgb = np.array(im.convert("RGB"))
        expected_gray = np.array(im.convert("L"))
    assert np.array_equal(result.rgb_display, expected_rgb)
    assert result.display is result.colour
    assert np.array_equal(result.pixels, expected_gray)
    assert "colour image converted to grayscale" in result.warnings


def test_png_l_is_exact() -> None:
    result = decode_image(encode(Image.fromarray(RAMP), "PNG"), "scan.png", "image/png")
    assert np.array_equal(result.pixels, RAMP)
    assert result.source_format == "png" and result.bit_depth == 8 and result.warnings == []


def test_png_rgb_with_equal_channels_is_gray_without_warning() -> None:
    rgb = np.repeat(RAMP[:, :, None], 3, axis=2)
    result = decode_image(encode(Image.fromarray(rgb), "PNG"))
    assert np.array_equal(result.pixels, RAMP)
    assert result.warnings == []


def test_png_rgb_colour_matches_pillow_luma() -> None:
    result = decode_image(encode(Image.fromarray(COLOUR), "PNG"))
    assert np.array_equal(result.pixels, np.array(Image.fromarray(COLOUR).convert("L")))
    assert np.array_equal(result.rgb_display, COLOUR)
    assert "colour image converted to grayscale" in result.warnings


def test_png_16bit_gray_is_min_max_scaled() -> None:
    values = (np.add.outer(np.arange(30), np.arange(20)) * 60 + 500).astype(np.uint16)  # 12-bit
    result = decode_image(encode(Image.fromarray(values), "PNG"))
    lo, hi = int(values.min()), int(values.max())
    expected = np.rint((values.astype(np.float64) - lo) * 255 / (hi - lo)).astype(np.uint8)
    assert result.bit_depth == 16
    assert np.abs(result.pixels.astype(int) - expected).max() <= 1
    assert result.pixels.min() == 0 and result.pixels.max() == 255
    assert any(w.startswith("16-bit image rescaled") for w in result.warnings)


def test_png_16bit_rgb_keeps_all_bits() -> None:
    cv2 = pytest.importorskip("cv2")
    gray12 = (np.add.outer(np.arange(24), np.arange(32)) * 70).astype(np.uint16)  # < 4096
    bgr = np.stack([gray12, gray12, gray12], axis=-1)
    ok, buf = cv2.imencode(".png", bgr)
    assert ok
    result = decode_image(buf.tobytes())
    assert result.bit_depth == 16
    # Keeping only the high byte (what Pillow does) would leave values 0..21, not 0..255.
    assert result.pixels.min() == 0 and result.pixels.max() == 255
    assert np.all(np.diff(result.pixels.astype(int), axis=1) >= 0)


def test_png_rgba_transparency_is_flattened_onto_black() -> None:
    rgba = np.dstack([COLOUR, np.full(COLOUR.shape[:2], 255, np.uint8)])
    rgba[:, :10, 3] = 0          # fully transparent strip
    rgba[:, 10:20, 3] = 128      # half transparent strip
    result = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.all(result.rgb_display[:, :10] == 0)
    assert np.array_equal(result.rgb_display[:, 20:], COLOUR[:, 20:])
    half = result.rgb_display[:, 10:20].astype(int)
    assert np.abs(half - COLOUR[:, 10:20].astype(int) * 128 / 255).max() <= 1
    assert "transparent areas flattened onto black" in result.warnings


def test_opaque_rgba_and_la_drop_alpha_silently() -> None:
    la = np.dstack([RAMP, np.full(RAMP.shape, 255, np.uint8)])
    result = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert np.array_equal(result.pixels, RAMP)
    assert result.warnings == []


def test_la_png_with_transparency() -> None:
    la = np.dstack([RAMP, np.full(RAMP.shape, 255, np.uint8)])
    la[:5, :, 1] = 0
    result = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert np.all(result.pixels[:5] == 0)
    assert np.array_equal(result.pixels[5:], RAMP[5:])


def test_palette_png() -> None:
    im = Image.fromarray(RAMP).convert("P")  # grayscale palette
    result = decode_image(encode(im, "PNG"))
    assert np.array_equal(result.pixels, np.array(im.convert("L")))
    assert result.warnings == []

    coloured = Image.fromarray(COLOUR).quantize(16)
    result = decode_image(encode(coloured, "PNG"))
    assert np.array_equal(result.rgb_display, np.array(coloured.convert("RGB")))
    assert "colour image converted to grayscale" in result.warnings


def test_palette_png_with_transparent_index() -> None:
    im = Image.fromarray((RAMP // 32).astype(np.uint8), "L").convert("P")
    im.putpalette([v for i in range(256) for v in (i * 30 % 256,) * 3])
    data = encode(im, "PNG", transparency=0)
    result = decode_image(data)
    index = np.array(im)
    assert np.all(result.pixels[index == 0] == 0)
    assert "transparent areas flattened onto black" in result.warnings


def test_one_bit_png() -> None:
    bits = (RAMP > 100).astype(np.uint8) * 255
    result = decode_image(encode(Image.fromarray(bits).convert("1"), "PNG"))
    assert set(np.unique(result.pixels)) == {0, 255}
    assert np.array_equal(result.pixels, bits)
    assert result.bit_depth == 1


def test_exif_orientation_is_applied() -> None:
    im = Image.fromarray(RAMP)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    result = decode_image(encode(im, "JPEG", quality=95, exif=exif.tobytes()))
    assert result.pixels.shape == (RAMP.shape[1], RAMP.shape[0])
    assert any("EXIF orientation" in w for w in result.warnings)


def test_name_and_content_type_only_warn() -> None:
    data = encode(Image.fromarray(RAMP), "PNG")
    result = decode_image(data, "film.jpg", "image/jpeg; charset=binary")
    assert result.source_format == "png"
    assert len(result.warnings) == 2
    assert "'.jpg'" in result.warnings[0] and "image/jpeg" in result.warnings[1]
    assert decode_image(data, "upload", "application/octet-stream").warnings == []


def test_real_chest_xray_fixture_if_present() -> None:
    folder = Path(__file__).parent / "fixtures" / "chest_xray"
    files = sorted(folder.rglob("*.jpeg"))[:3]
    if not files:
        pytest.skip("no chest X-ray fixtures in this checkout")
    for path in files:
        result = decode_image(path.read_bytes(), path.name)
        assert_valid(result)
        assert result.source_format == "jpeg"


# ---------------------------------------------------------------------------------------------
# DICOM
# ---------------------------------------------------------------------------------------------

DATA12 = (np.add.outer(np.arange(32) * 61, np.arange(48) * 43) % 4096).astype(np.uint16)


def window_linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """Independent restatement of DICOM PS3.3 C.11.2.1.2.1 onto 0..255."""
    x = x.astype(np.float64)
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, y)
    y = np.where(x > c - 0.5 + (w - 1) / 2, 255, y)
    return y


def test_dicom_monochrome2_without_window_is_min_max_scaled() -> None:
    result = decode_image(dicom_bytes(DATA12, bits_stored=12), "img.dcm", "application/dicom")
    lo, hi = DATA12.min(), DATA12.max()
    expected = np.rint((DATA12.astype(np.float64) - lo) * 255 / (hi - lo))
    assert result.source_format == "dicom" and result.bit_depth == 12
    assert np.abs(result.pixels - expected).max() <= 1
    assert any("without a display window" in w for w in result.warnings)


def test_dicom_8bit_passes_through() -> None:
    result = decode_image(dicom_bytes(RAMP))
    assert np.array_equal(result.pixels, RAMP)
    assert result.bit_depth == 8 and result.warnings == []


def test_monochrome1_is_inverted_relative_to_monochrome2() -> None:
    for kwargs in ({}, {"window_center": 2000, "window_width": 3000}):
        m2 = decode_image(dicom_bytes(DATA12, bits_stored=12, **kwargs))
        m1 = decode_image(dicom_bytes(DATA12, bits_stored=12, photometric="MONOCHROME1", **kwargs))
        assert np.array_equal(m1.pixels, 255 - m2.pixels)
        assert m2.pixels.std() > 10  # a real image, not a flat one where inversion is trivial
        assert any("MONOCHROME1" in w for w in m1.warnings)


def test_dicom_window_is_applied() -> None:
    result = decode_image(dicom_bytes(DATA12, bits_stored=12, window_center=1500,
                                       window_width=1000))
    expected = window_linear(DATA12, 1500, 1000)
    assert np.abs(result.pixels - expected).max() <= 1
    assert (result.pixels == 0).any() and (result.pixels == 255).any()  # clipped both ends
    assert not any("without a display window" in w for w in result.warnings)


def test_dicom_rescale_then_window() -> None:
    raw = np.array([[0, 500, 750, 1000, 1250, 1500, 4095]], dtype=np.uint16)
    data = dicom_bytes(raw, bits_stored=12, rescale_slope=2, rescale_intercept=-1000,
                       window_center=1000, window_width=2000)
    result = decode_image(data)
    # rescaled: -1000, 0, 500, 1000, 1500, 2000, 7190
    assert result.pixels.tolist() == [[0, 0, 64, 128, 191, 255, 255]]
    # the same window on unrescaled values would differ, so the test sees a missing rescale
    assert np.rint(window_linear(raw, 1000, 2000)).astype(int).tolist() != result.pixels.tolist()


def test_dicom_rescale_without_window_and_signed_data() -> None:
    signed = (DATA12.astype(np.int32) - 2048).astype(np.int16)
    result = decode_image(dicom_bytes(signed, bits_stored=12, signed=True, rescale_slope=1,
                                       rescale_intercept=-1024))
    order = np.argsort(signed.ravel(), kind="stable")
    assert np.all(np.diff(result.pixels.ravel()[order].astype(int)) >= 0)
    assert result.pixels.min() == 0 and result.pixels.max() == 255


def test_dicom_sigmoid_and_linear_exact_windows() -> None:
    for function in ("SIGMOID", "LINEAR_EXACT"):
        result = decode_image(dicom_bytes(DATA12, bits_stored=12, window_center=2048,
                                           window_width=1024, voi_lut_function=function))
        below, above = DATA12 < 1000, DATA12 > 3100
        assert result.pixels[below].max() <= 10 and result.pixels[above].min() >= 245


def test_dicom_several_windows_uses_first() -> None:
    result = decode_image(dicom_bytes(DATA12, bits_stored=12, window_center=[1500, 300],
                                       window_width=[1000, 50]))
    assert np.abs(result.pixels - window_linear(DATA12, 1500, 1000)).max() <= 1
    assert any("several display windows" in w for w in result.warnings)


def test_dicom_invalid_window_falls_back_to_min_max() -> None:
    result = decode_image(dicom_bytes(DATA12, bits_stored=12, window_center=100, window_width=0))
    assert result.pixels.min() == 0 and result.pixels.max() == 255
    assert any("invalid DICOM window" in w for w in result.warnings)


def test_dicom_voi_lut_sequence() -> None:
    lut = 4095 - np.arange(4096)  # an inverting LUT, 12-bit output
    result = decode_image(dicom_bytes(DATA12, bits_stored=12, voi_lut=lut))
    expected = np.rint((4095 - DATA12.astype(np.float64)) / 4095 * 255)
    assert np.abs(result.pixels - expected).max() <= 1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_dicom_layouts_decode_the_same(layout: str) -> None:
    reference = decode_image(dicom_bytes(DATA12, bits_stored=12)).pixels
    assert sniff_format(dicom_bytes(DATA12, bits_stored=12, layout=layout)) == "dicom"
    result = decode_image(dicom_bytes(DATA12, bits_stored=12, layout=layout))
    assert np.array_equal(result.pixels, reference)
    assert any("transfer syntax" in w for w in result.warnings) == (layout == "bare")


def test_multiframe_dicom_takes_first_frame() -> None:
    frames = np.stack([DATA12, 4095 - DATA12, DATA12 // 2])
    result = decode_image(dicom_bytes(frames, bits_stored=12))
    assert np.array_equal(result.pixels, decode_image(dicom_bytes(DATA12, bits_stored=12)).pixels)
    assert any("3 frames" in w for w in result.warnings)


def test_rgb_dicom() -> None:
    result = decode_image(dicom_bytes(COLOUR, photometric="RGB"))
    assert np.array_equal(result.rgb_display, COLOUR)
    assert np.array_equal(result.pixels, np.array(Image.fromarray(COLOUR).convert("L")))


def test_deflated_dicom_decodes() -> None:
    data = dicom_bytes(DATA12, bits_stored=12, transfer_syntax=DeflatedExplicitVRLittleEndian)
    result = decode_image(data)
    assert np.array_equal(result.pixels, decode_image(dicom_bytes(DATA12, bits_stored=12)).pixels)


def test_jpeg_compressed_dicom_decodes_with_pillow() -> None:
    frame = encode(Image.fromarray(RAMP), "JPEG", quality=95)
    data = compressed_dicom_bytes(JPEGBaseline8Bit, frame, rows=RAMP.shape[0],
                                  columns=RAMP.shape[1])
    result = decode_image(data)
    assert np.abs(result.pixels.astype(int) - RAMP).max() <= 3


def test_compressed_dicom_without_decoder_is_415_naming_the_syntax() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decode_image(compressed_dicom_bytes(JPEGLSLossless))
    assert "JPEG-LS Lossless" in info.value.detail and JPEGLSLossless in info.value.detail
    assert info.value.status_code == 415


def test_compressed_dicom_with_decoder_but_broken_data_is_400() -> None:
    with pytest.raises(UndecodableImage):
        decode_image(compressed_dicom_bytes(JPEG2000Lossless))


def test_image_dicom_cut_before_its_pixels_is_400() -> None:
    data = dicom_bytes(DATA12, bits_stored=12)
    at = data.rfind(b"\xe0\x7f\x10\x00")  # (7FE0,0010) Pixel Data: cut it off
    with pytest.raises(UndecodableImage, match="no pixel data"):
        decode_image(data[:at])


def test_non_image_dicom_is_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="Basic Text SR Storage"):
        decode_image(report_dicom_bytes())


# ---------------------------------------------------------------------------------------------
# Client errors
# ---------------------------------------------------------------------------------------------


def test_error_classes_carry_status_and_advice() -> None:
    expected = {EmptyUpload: 400, UndecodableImage: 400, UploadTooLarge: 413, ImageTooLarge: 413,
                UnsupportedMediaType: 415, NotAChestXray: 422}
    for cls, status in expected.items():
        err = cls()
        assert isinstance(err, ImageFileError) and err.status_code == status
        assert len(err.detail) > 30 and err.to_dict()["status"] == status
    assert UndecodableImage("custom words").detail == "custom words"


def test_empty_upload() -> None:
    with pytest.raises(EmptyUpload) as info:
        decode_image(b"")
    assert info.value.status_code == 400


def test_random_bytes_are_400() -> None:
    noise = np.random.default_rng(3).integers(0, 256, 3000, np.uint8).tobytes()
    data = bytes(range(200, 256)) + noise
    assert sniff_format(data) == "unknown"
    with pytest.raises(UndecodableImage):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_images_are_400(fmt: str) -> None:
    data = encode(Image.fromarray(COLOUR), fmt)
    with pytest.raises(UndecodableImage) as info:
        decode_image(data[: len(data) // 2])
    assert info.value.status_code == 400
    assert info.value.__cause__ is not None  # the decoder's own error stays attached for logs


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (encode(Image.fromarray(RAMP), "GIF"), "GIF"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "PDF"),
        ("Patient: chest film attached\nthanks\n".encode(), "text"),
        ("<svg xmlns='http://www.w3.org/2000/svg'></svg>".encode(), "text"),
        (encode(Image.fromarray(RAMP), "TIFF"), "TIFF"),
        (encode(Image.fromarray(RAMP), "WEBP"), "WebP"),
        (encode(Image.fromarray(RAMP), "BMP"), "BMP"),
    ],
)
def test_other_formats_are_415(data: bytes, words: str) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decode_image(data, "image.png", "image/png")
    assert info.value.status_code == 415 and words in info.value.detail


def test_twelve_bit_jpeg_is_415() -> None:
    data = jpeg_with_frame(encode(Image.fromarray(RAMP), "JPEG"), precision=12)
    with pytest.raises(UnsupportedMediaType, match="12-bit JPEG"):
        decode_image(data)


def test_over_byte_limit_is_413() -> None:
    data = encode(Image.fromarray(COLOUR), "PNG")
    with pytest.raises(UploadTooLarge) as info:
        decode_image(data, max_bytes=len(data) - 1)
    assert info.value.status_code == 413
    assert decode_image(data, max_bytes=len(data)).pixels.shape == COLOUR.shape[:2]
    with pytest.raises(UploadTooLarge, match="20.0 MB"):
        decode_image(b"\xff\xd8\xff" + bytes(20 * 1024 * 1024))


@pytest.fixture
def no_pillow_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything opens the image with Pillow or decodes DICOM pixels."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("image was opened although its header is over the limit")

    monkeypatch.setattr(Image, "open", refuse)
    monkeypatch.setattr("pydicom.dataset.Dataset.pixel_array", property(refuse))


@pytest.mark.usefixtures("no_pillow_decoding")
@pytest.mark.parametrize(
    ("make", "max_pixels"),
    [
        (lambda: png_claiming(100_000, 100_000), None),
        (lambda: png_claiming(5_000, 5_000), 1_000_000),  # under Pillow's own bomb limit
        (lambda: jpeg_with_frame(encode(Image.fromarray(RAMP), "JPEG"), width=60_000,
                                 height=60_000), None),
        (lambda: dicom_claiming(65_535, 65_535), None),
    ],
    ids=["png-100000x100000", "png-over-custom-limit", "jpeg-60000x60000", "dicom-rows-65535"],
)
def test_header_over_pixel_limit_is_413_before_decoding(make, max_pixels) -> None:
    data = make()
    kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge) as info:
            decode_image(data, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.status_code == 413 and "megapixels" in info.value.detail
    assert peak < 5 * 1024 * 1024


def test_encapsulated_frame_larger_than_its_header_says_is_413() -> None:
    frame = jpeg_with_frame(encode(Image.fromarray(RAMP), "JPEG"), width=9000, height=9000)
    data = compressed_dicom_bytes(JPEGBaseline8Bit, frame, rows=RAMP.shape[0],
                                  columns=RAMP.shape[1])
    with pytest.raises(ImageTooLarge):
        decode_image(data)


def test_deflate_bomb_is_refused_without_inflating_it() -> None:
    bomb = deflate_bomb_dicom_bytes(300 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(UploadTooLarge):
            decode_image(bomb, max_pixels=2_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024


def test_decoded_image_checks_its_invariants() -> None:
    gray = np.zeros((4, 5), np.uint8)
    DecodedImage(gray, np.zeros((4, 5, 3), np.uint8), "png", 8)
    with pytest.raises(ValueError):
        DecodedImage(gray.astype(np.uint16), np.zeros((4, 5, 3), np.uint8), "png", 8)
    with pytest.raises(ValueError):
        DecodedImage(gray, np.zeros((5, 4, 3), np.uint8), "png", 8)


def test_private_pillow_decoder_failure_maps_to_400(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a decoder raises (here a RuntimeError) reaches the client as a 400."""

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(decode_module, "_finish_pil", explode)
    with pytest.raises(UndecodableImage):
        decode_image(encode(Image.fromarray(RAMP), "PNG"))


# ---------------------------------------------------------------------------------------------
# Fuzzing: any bytes either decode to a valid image or raise an ImageFileError, nothing else
# ---------------------------------------------------------------------------------------------

_SMALL = np.add.outer(np.arange(12) * 9, np.arange(16) * 7).astype(np.uint8)
SEEDS = [
    encode(Image.fromarray(_SMALL), "JPEG", quality=80),
    encode(Image.fromarray(np.dstack([_SMALL, _SMALL[::-1], 255 - _SMALL])), "JPEG"),
    encode(Image.fromarray(_SMALL), "PNG"),
    encode(Image.fromarray(_SMALL.astype(np.uint16) * 300), "PNG"),
    encode(Image.fromarray(np.dstack([_SMALL] * 3 + [_SMALL])), "PNG"),
    encode(Image.fromarray(_SMALL).convert("P"), "PNG"),
    dicom_bytes(_SMALL.astype(np.uint16) * 16, bits_stored=12, window_center=900,
                window_width=800),
    dicom_bytes(_SMALL, photometric="MONOCHROME1", layout="meta_only"),
    dicom_bytes(_SMALL.astype(np.uint16), rescale_slope=2, layout="bare"),
]
FUZZ_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _decode_or_client_error(data: bytes) -> None:
    try:
        result = decode_image(data, max_pixels=200_000)
    except ImageFileError as exc:
        assert exc.status_code in (400, 413, 415) and exc.detail
        return
    assert_valid(result)


@st.composite
def mutated_seed(draw: st.DrawFn) -> bytes:
    buf = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        # half the edits land in the first 400 bytes, where headers and sizes live
        limit = min(len(buf), 400) if draw(st.booleans()) else len(buf)
        if limit == 0:
            break
        pos = draw(st.integers(0, limit - 1))
        op = draw(st.sampled_from(["set", "flip", "truncate", "insert", "delete", "max"]))
        if op == "set":
            buf[pos] = draw(st.integers(0, 255))
        elif op == "flip":
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        else:
            buf[pos : pos + 2] = b"\xff\xff"
    return bytes(buf)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom complains about garbage
@FUZZ_SETTINGS
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_or_client_error(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom complains about garbage
@FUZZ_SETTINGS
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", bytes(128) + b"DICM", b"DICM",
                        b"\x08\x00\x05\x00CS"]), st.binary(max_size=600))
def test_fuzz_magic_then_garbage(magic: bytes, rest: bytes) -> None:
    _decode_or_client_error(magic + rest)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom complains about garbage
@settings(FUZZ_SETTINGS, max_examples=600)
@given(mutated_seed())
def test_fuzz_mutated_valid_files(data: bytes) -> None:
    _decode_or_client_error(data)


def test_fuzz_seeds_are_valid() -> None:
    """The fuzz seeds themselves decode, so mutations start from real files."""
    for seed in SEEDS:
        assert_valid(decode_image(seed))
