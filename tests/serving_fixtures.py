"""A tiny deployable checkpoint and sample uploads for the HTTP service tests.

The real model is trained elsewhere and too slow to use here, so the tests finalize their own:
ImageNet-pretrained EfficientNet-Lite0 weights (available offline) with an untrained head, at
64 px, with metadata shaped like :func:`pneumolib.deploy.finalize.finalize_checkpoint`'s and
a not-an-X-ray gate fitted on the fixture X-rays' features. Its predictions mean nothing; its
gate does separate the fixture X-rays from blank images, noise, documents and photos.
"""

from __future__ import annotations

import atexit
import functools
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from dicom_fixtures import dicom_bytes
from PIL import Image

from pneumolib.checkpoint import save_checkpoint
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.decode.image import decode_image
from pneumolib.gate.fit import gate_features
from pneumolib.gate.mahalanobis import MahalanobisGate
from pneumolib.models import ARCHITECTURES, create_model

TESTS = Path(__file__).resolve().parent
XRAY_DIR = TESTS / "fixtures" / "chest_xray"
NOT_XRAY_DIR = TESTS / "fixtures" / "not_xray"
IMAGE_SIZE = 64
OPERATING_POINTS = {
    "screening": {"threshold": 0.2, "val_sensitivity": 0.99, "val_specificity": 0.61,
                  "rule": "highest threshold with val sensitivity >= 0.99"},
    "balanced": {"threshold": 0.55, "val_sensitivity": 0.93, "val_specificity": 0.9,
                 "rule": "Youden's J"},
}
TEST_METRICS = {"roc_auc": {"estimate": 0.97, "lower": 0.95, "upper": 0.98}, "at": {}}
HEATMAP_REPORT = {"operating_point": "screening", "films": 20, "films_called_pneumonia": 12,
                  "lung_share_called_pneumonia": 0.61, "uniform_share_called_pneumonia": 0.21,
                  "laterality_agreement": 0.75, "uniform_laterality_agreement": 0.7, "occlusion_fill": "reference",
                  "deletion_curve": [], "top_zones": []}


def xray_paths() -> list[Path]:
    return sorted(XRAY_DIR.rglob("*.jpeg"))


def xray_pixels(index: int = 0) -> np.ndarray:
    """A fixture X-ray as (H, W) uint8."""
    return decode_image(xray_paths()[index].read_bytes()).pixels


@functools.cache
def tiny_checkpoint() -> Path:
    """Build the checkpoint once per test process; returns its path (a report JSON sits beside it)."""
    folder = Path(tempfile.mkdtemp(prefix="pneumolib-serving-"))
    atexit.register(shutil.rmtree, folder, True)
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", pretrained=True).eval()
    images = np.stack([canonical_image(decode_image(p.read_bytes()).pixels, IMAGE_SIZE, 75)
                       for p in xray_paths()])
    layers = ARCHITECTURES["efficientnet_lite0"].gate_layers
    features = gate_features(model, images, layers, progress=False)
    gate = MahalanobisGate().fit(features, quantile=0.995, layers=layers)
    metadata = {
        "architecture": "efficientnet_lite0",
        "image_size": IMAGE_SIZE,
        "jpeg_quality": 75,
        "dropout": 0.3,
        "epoch": 1,
        "temperature": 1.5,
        "operating_points": OPERATING_POINTS,
        "default_operating_point": "screening",
        "thresholds_apply_to": "calibrated probability of pneumonia, sigmoid(logit / temperature)",
        "val_metrics": {"val_loss": 0.3, "val_auc": 0.95, "val_images": 4, "undefined": float("nan")},
        "ood_gate": {"method": "Mahalanobis distance on pooled stage outputs, Ledoit-Wolf covariance",
                     "fitted_on": f"{len(images)} fixture images", "quantile": 0.995,
                     "val_accept_rate": 1.0},
    }
    path = save_checkpoint(folder / "tiny.pt", model, metadata, ood_gate=gate.to_state())
    (folder / "tiny.report.json").write_text(json.dumps({"test": TEST_METRICS, "heatmaps": HEATMAP_REPORT}))
    return path


def training_checkpoint(folder: Path) -> Path:
    """A checkpoint as training leaves it: no temperature, operating points or gate."""
    model = create_model("efficientnet_lite0", pretrained=False)
    return save_checkpoint(folder / "unfinished.pt", model, {
        "architecture": "efficientnet_lite0", "image_size": IMAGE_SIZE, "jpeg_quality": 75,
        "operating_points": {"default": {"threshold": 0.5}}, "temperature": 1.0,
    })


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def upload_kinds() -> dict[str, tuple[str, bytes, str]]:
    """name -> (file name, bytes, content type): every supported kind, all showing an X-ray."""
    gray = xray_pixels(0)
    tinted = np.dstack([gray, (gray * 0.95).astype(np.uint8), (gray * 0.9).astype(np.uint8)])
    alpha = np.full(gray.shape, 255, np.uint8)
    alpha[:4, :4] = 0  # a transparent corner, flattened onto black
    deep = gray.astype(np.uint16) * 257
    return {
        "jpeg_gray": ("xray.jpg", xray_paths()[0].read_bytes(), "image/jpeg"),
        "jpeg_rgb": ("xray.jpg", encode(Image.fromarray(tinted), "JPEG", quality=95), "image/jpeg"),
        "png_8bit": ("xray.png", encode(Image.fromarray(gray), "PNG"), "image/png"),
        "png_16bit": ("xray.png", encode(Image.fromarray(deep), "PNG"), "image/png"),
        "png_rgb": ("xray.png", encode(Image.fromarray(tinted), "PNG"), "image/png"),
        "png_rgba": ("xray.png", encode(Image.fromarray(np.dstack([tinted, alpha])), "PNG"), "image/png"),
        "png_palette": ("xray.png", encode(Image.fromarray(gray).convert("P"), "PNG"), "image/png"),
        "dicom_monochrome2": ("xray.dcm", dicom_bytes(gray.astype(np.uint16) * 16, bits_stored=12),
                              "application/dicom"),
        "dicom_monochrome1": ("xray.dcm", dicom_bytes(((255 - gray).astype(np.uint16)) * 16, bits_stored=12,
                                                      photometric="MONOCHROME1"), "application/dicom"),
    }
