"""Shared fixtures: the committed fixture images, and the full dataset when it is present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DATA = REPO / "tests" / "fixtures" / "chest_xray"
SHARED_DATA = REPO.parent / "shared" / "data" / "chest_xray"


FULL_DATA_IMAGES = 5856


def full_data_root() -> Path | None:
    """The full dataset: $PNEUMO_DATA_DIR, else ../shared/data/chest_xray beside the checkout.

    Only a folder holding every image counts (the test command points PNEUMO_DATA_DIR at the
    fixtures on a machine without the data).
    """
    env = os.environ.get("PNEUMO_DATA_DIR")
    for candidate in (Path(env) if env else None, SHARED_DATA):
        if candidate is not None and len(list(candidate.glob("*/*/*.jpeg"))) == FULL_DATA_IMAGES:
            return candidate
    return None


@pytest.fixture(scope="session")
def fixture_root() -> Path:
    return FIXTURE_DATA


@pytest.fixture(scope="session")
def fixture_build(fixture_root):
    from pneumolib.data.split.manifest import build_manifest

    return build_manifest(fixture_root, download=False, progress=False)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's model code on one thread: much faster when anything else shares the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def imagenet_lite0():
    """Lite0 with its ImageNet weights (available offline) and a seeded new two-class head."""
    import torch

    from pneumolib.models import create_model

    torch.manual_seed(0)
    return create_model("efficientnet_lite0", pretrained=True).eval()


@pytest.fixture(scope="module")
def ramp_images():
    """Four 96 px uint8 test images: a diagonal ramp (something for a CAM to find) plus seeded noise."""
    import numpy as np

    rng = np.random.default_rng(5)
    ramp = np.linspace(0, 255, 96)
    return np.clip(np.add.outer(ramp, ramp[::-1])[None] / 2 + rng.normal(0, 40, (4, 96, 96)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session", autouse=True)
def onnx_cache_in_tmp(tmp_path_factory):
    """Graphs exported by the tests go to a temporary folder, not the user's cache."""
    previous = os.environ.get("PNEUMO_ONNX_CACHE")
    os.environ["PNEUMO_ONNX_CACHE"] = str(tmp_path_factory.mktemp("onnx_cache"))
    yield
    if previous is None:
        os.environ.pop("PNEUMO_ONNX_CACHE", None)
    else:
        os.environ["PNEUMO_ONNX_CACHE"] = previous
