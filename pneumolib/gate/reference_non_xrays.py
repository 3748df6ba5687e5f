"""A reference set of pictures that are not chest X-rays, for placing the gate's threshold.

The gate's threshold sits in the gap between chest X-rays and everything else, so fitting it
needs examples of "everything else". They come from the sample images that ship inside
scikit-image (photos, microscopy, astronomy, a retina, a CT phantom, scanned text, faces from
LFW), read from the installed package, so no download is needed. Each image is used as it is in
grayscale, inverted (film-like polarity) and as a centre crop.

This set is kept apart from the one the gate is *evaluated* on (``tests/fixtures/not_xray``,
built from other sources by ``scripts/make_not_xray_set.py``), so the reported rejection rate is
not measured on the images that placed the threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE_FILES = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "color.png", "grass.png", "gravel.png", "horse.png",
    "hubble_deep_field.jpg", "ihc.png", "logo.png", "microaneurysms.png", "moon.png",
    "motorcycle_left.png", "page.png", "phantom.png", "retina.jpg", "rocket.jpg", "text.png",
)
FACES_FILE = "lfw_subset.npy"
FACES_STEP = 10  # every tenth of the 200 LFW crops: 20 faces


def sample_data_dir() -> Path:
    """scikit-image's bundled ``data`` folder, or an error that says how to get it."""
    try:
        import skimage
    except ImportError as error:
        raise ImportError("Fitting the not-a-chest-X-ray gate needs scikit-image's sample images: "
                          "pip install scikit-image") from error
    return Path(skimage.__file__).resolve().parent / "data"


def reference_non_xrays() -> list[tuple[str, np.ndarray]]:
    """(name, (H, W) uint8 grayscale) pairs: each sample image in three variants, plus faces."""
    folder = sample_data_dir()
    missing = [name for name in (*SAMPLE_FILES, FACES_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"scikit-image's sample data in {folder} lacks {', '.join(missing)}; "
                                "reinstall scikit-image")
    images = []
    for name in SAMPLE_FILES:
        with Image.open(folder / name) as opened:
            gray = np.asarray(opened.convert("L"))
        height, width = gray.shape
        stem = Path(name).stem
        images += [
            (f"{stem} (grayscale)", gray),
            (f"{stem} (inverted)", 255 - gray),
            (f"{stem} (centre crop)", gray[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4]),
        ]
    faces = np.load(folder / FACES_FILE)  # (200, 25, 25) floats in [0, 1]
    for index in range(0, len(faces), FACES_STEP):
        images.append((f"LFW face {index}", np.round(faces[index] * 255).astype(np.uint8)))
    return images
