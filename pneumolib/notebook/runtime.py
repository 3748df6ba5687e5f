"""What to expect on your runtime: time and memory of the slow steps, from measured samples.

A learner deciding between a CPU runtime, a T4 and an A100 wants to know before pressing "Run all"
whether a step takes minutes or hours. :func:`measure_runtime` times a sample of each slow step
on the machine it runs on (decoding films into the cache, training steps with augmentation and
mixed precision, scoring) and records peak memory; ``scripts/measure_runtime.py`` stores the result
in ``pneumolib/resources/runtimes.json``. :func:`expected_runtime` turns the stored rates into
estimated times for the full data set, with one row per runtime, and says "not measured" for
a runtime nobody has measured rather than guessing.
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pneumolib.resources import packaged_file

RUNTIMES_FILE = "runtimes.json"
#: Runtimes a learner meets in Colab, listed even when they have not been measured.
COLAB_RUNTIMES = ("Colab T4 GPU", "Colab A100 GPU")


def measure_runtime(paths: list[Path], architecture: str, image_size: int = 224, batch_size: int = 32,
                    steps: int = 6, device: str | None = None, label: str | None = None) -> dict[str, Any]:
    """Rates of the slow steps on this machine, from the films at ``paths``.

    Reading and decoding is timed on the films given (their own sizes: a 256-pixel copy decodes
    faster than the originals); training and scoring on ``steps`` batches after a warm-up batch.
    """
    import torch

    from pneumolib.data.inputs.augment import AugmentConfig, augment_batch
    from pneumolib.data.inputs.preprocess import canonical_image
    from pneumolib.data.release.images import read_grayscale
    from pneumolib.engine import autocast_dtype, to_model_input
    from pneumolib.models import create_model
    from pneumolib.training.trainer import backward_and_step

    device_ = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    started, shapes, cached = time.perf_counter(), [], []
    for path in paths:
        film = read_grayscale(path)
        shapes.append(film.shape)
        cached.append(canonical_image(film, image_size))
    decode_rate = len(paths) / (time.perf_counter() - started)
    cached = np.stack(cached)
    height, width = (int(np.median([shape[axis] for shape in shapes])) for axis in (0, 1))

    model = create_model(architecture, pretrained=False).to(device_).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = autocast_dtype(device_)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    generator = torch.Generator(device=device_).manual_seed(0)
    labels = torch.randint(0, 2, (batch_size,), device=device_)
    index = np.arange(batch_size) % len(cached)

    def train_step() -> None:
        batch = augment_batch(to_model_input(cached[index], device_), generator, AugmentConfig())
        with torch.autocast(device_type=device_.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss = torch.nn.functional.cross_entropy(model(batch.contiguous(memory_format=torch.channels_last)).float(), labels)
        backward_and_step(loss, optimizer, scaler)

    train_rate = _rate(train_step, steps, batch_size, device_)
    model.eval()

    def score_step() -> None:
        with torch.inference_mode(), torch.autocast(device_type=device_.type, dtype=amp or torch.float32,
                                                    enabled=amp is not None):
            model(to_model_input(cached[index], device_))

    score_rate = _rate(score_step, steps, batch_size, device_)
    peak_gpu = torch.cuda.max_memory_allocated(device_) / 2**30 if device_.type == "cuda" else None
    name = torch.cuda.get_device_name(device_) if device_.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return {
        "runtime": label or name, "device": name, "architecture": architecture, "image_size": image_size,
        "batch_size": batch_size, "films_median_size": f"{width}x{height}", "decode_images_per_s": decode_rate,
        "train_images_per_s": train_rate,
        "score_images_per_s": score_rate, "peak_ram_gib": _peak_ram_gib(), "peak_gpu_gib": peak_gpu,
        "measured_on": date.today().isoformat(), "python": platform.python_version(), "torch": torch.__version__,
    }


def _rate(step: Any, steps: int, batch_size: int, device: Any) -> float:
    import torch

    step()  # warm-up: kernels, allocator
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps * batch_size / (time.perf_counter() - started)


def _peak_ram_gib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / (2**30 if sys.platform == "darwin" else 2**20)


def load_measurements(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The stored measurements (the packaged file unless ``path`` is given)."""
    path = Path(path) if path else packaged_file(RUNTIMES_FILE)
    return json.loads(path.read_text(encoding="utf-8"))["measurements"] if path.is_file() else []


def expected_runtime(notebook: str, measurements: list[dict[str, Any]] | None = None, epochs: int = 12) -> pd.DataFrame:
    """A table of estimated times and peak memory for ``notebook`` ("01" or "03"), one row per runtime."""
    from pneumolib.data.split.manifest import load_manifest

    measurements = load_measurements() if measurements is None else measurements
    counts = load_manifest()["split"].value_counts()
    films, train, val = int(counts.sum()), int(counts.get("train", 0)), int(counts.get("val", 0))
    rows = []
    for entry in measurements:
        row = {"runtime": entry["runtime"], "measured": f"{entry['measured_on']}, {entry['architecture']} "
                                                      f"{entry['image_size']} px, batch {entry['batch_size']}"}
        decode_min = films / entry["decode_images_per_s"] / 60
        epoch_min = (train / entry["train_images_per_s"] + val / entry["score_images_per_s"]) / 60
        if notebook == "01":
            if entry.get("films_median_size"):
                row["measured"] += f", films of median size {entry['films_median_size']} px"
            row[f"decode and cache all {films:,} films"] = _minutes(decode_min)
        else:
            row[f"one epoch ({train:,} train + {val:,} val films)"] = _minutes(epoch_min)
            row[f"{epochs} epochs"] = _minutes(epochs * epoch_min)
        row["peak memory"] = (f"{entry['peak_ram_gib']:.1f} GiB RAM"
                              + (f", {entry['peak_gpu_gib']:.1f} GiB GPU" if entry.get("peak_gpu_gib") else ""))
        rows.append(row)
    measured = {entry["runtime"] for entry in measurements}
    for runtime in COLAB_RUNTIMES:
        if runtime not in measured:
            rows.append({"runtime": runtime, "measured": "not measured"})
    return pd.DataFrame(rows).set_index("runtime").fillna("not measured")


def _minutes(value: float) -> str:
    return f"about {value:.0f} min" if value >= 1.5 else f"about {value * 60:.0f} s"
