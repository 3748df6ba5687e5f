"""The notebooks' "what to expect" tables: estimates from stored rates, "not measured" otherwise."""

from __future__ import annotations

import pytest

from pneumolib.data.split.manifest import load_manifest
from pneumolib.notebook.runtime import COLAB_RUNTIMES, expected_runtime, load_measurements, measure_runtime

CPU = {"runtime": "CPU, 2 cores", "device": "CPU", "architecture": "efficientnet_lite0", "image_size": 224,
       "batch_size": 32, "decode_images_per_s": 20.0, "train_images_per_s": 10.0, "score_images_per_s": 50.0,
       "peak_ram_gib": 3.2, "peak_gpu_gib": None, "measured_on": "2026-12-03"}


def test_estimates_follow_the_rates_and_the_split():
    counts = load_manifest()["split"].value_counts()
    table = expected_runtime("03", [CPU], epochs=12)
    epoch_minutes = (counts["train"] / 10.0 + counts["val"] / 50.0) / 60
    row = table.loc["CPU, 2 cores"]
    assert row.iloc[1] == f"about {epoch_minutes:.0f} min" and row.iloc[2] == f"about {12 * epoch_minutes:.0f} min"
    assert row["peak memory"] == "3.2 GiB RAM"
    decode = expected_runtime("01", [CPU]).loc["CPU, 2 cores"].iloc[1]
    assert decode == f"about {counts.sum() / 20.0 / 60:.0f} min"


def test_unmeasured_runtimes_say_so_and_give_no_figure():
    table = expected_runtime("03", [CPU])
    for runtime in COLAB_RUNTIMES:
        assert set(table.loc[runtime]) == {"not measured"}


def test_the_packaged_measurements_are_read():
    stored = load_measurements()
    assert stored, "pneumolib/resources/runtimes.json holds no measurement"
    assert all(entry["train_images_per_s"] > 0 for entry in stored)


@pytest.mark.usefixtures("one_torch_thread")
def test_measuring_a_tiny_sample_gives_positive_rates(fixture_root):
    paths = sorted(fixture_root.glob("train/*/*.jpeg"))[:4]
    entry = measure_runtime(paths, "efficientnet_lite0", image_size=64, batch_size=4, steps=1, device="cpu", label="t")
    assert entry["runtime"] == "t" and entry["peak_ram_gib"] > 0
    assert min(entry["decode_images_per_s"], entry["train_images_per_s"], entry["score_images_per_s"]) > 0
