"""The service's tunable limits, read once from environment variables.

Operators size a deployment without touching code (a small VM wants fewer parallel inferences,
a PACS bridge may need a larger upload limit), and a typo should stop the server at startup
with a message that names the variable, not surface later as a confusing request failure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pneumolib.engine.choice import ENGINE_ENV, engine_preference

from pneumolib.decode.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

MAX_UPLOAD_BYTES_ENV = "PNEUMO_MAX_UPLOAD_BYTES"
MAX_PIXELS_ENV = "PNEUMO_MAX_PIXELS"
MAX_CONCURRENCY_ENV = "PNEUMO_MAX_CONCURRENCY"
HEATMAP_MAX_SIDE_ENV = "PNEUMO_HEATMAP_MAX_SIDE"
TORCH_THREADS_ENV = "PNEUMO_TORCH_THREADS"


@dataclass(frozen=True)
class ServiceSettings:
    """Limits of one running service; the defaults suit a 2-4 core CPU machine."""

    max_upload_bytes: int = DEFAULT_MAX_BYTES
    """Largest accepted file; bigger uploads get 413 before they are read into memory."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Largest accepted width x height, checked from the image header before decoding."""
    max_concurrency: int = 2
    """Requests decoded and run through the model at the same time; the rest wait their turn.
    Each one holds a decoded image and activations in memory and competes for the same cores."""
    heatmap_max_side: int = 1024
    """The heatmap overlay is drawn on the original image shrunk to at most this many pixels on
    its longer side (0: full size), keeping the base64 PNG in the response to a few hundred kB."""
    torch_threads: int = 0
    """Intra-op threads per inference (0: the cores divided among ``max_concurrency``). Two
    inferences each using every core oversubscribe the CPU, and a model whose threads wait on
    each other at every layer is hit hardest when anything else competes for the cores."""

    engine: str = "auto"
    """Which inference engine answers: ``auto`` (ONNX Runtime on a CPU where installed, else
    PyTorch), ``onnx`` or ``torch``; see :mod:`pneumolib.engine.choice`."""

    def __post_init__(self) -> None:
        engine_preference(self.engine)  # raises on an unknown engine name
        for name, low in (("max_upload_bytes", 1), ("max_pixels", 1), ("max_concurrency", 1),
                          ("heatmap_max_side", 0), ("torch_threads", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Defaults overridden by ``PNEUMO_MAX_UPLOAD_BYTES``, ``PNEUMO_MAX_PIXELS``,
        ``PNEUMO_MAX_CONCURRENCY``, ``PNEUMO_HEATMAP_MAX_SIDE``, ``PNEUMO_TORCH_THREADS`` and
        ``PNEUMO_ENGINE``."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            max_upload_bytes=_int(env, MAX_UPLOAD_BYTES_ENV, defaults.max_upload_bytes, 1),
            max_pixels=_int(env, MAX_PIXELS_ENV, defaults.max_pixels, 1),
            max_concurrency=_int(env, MAX_CONCURRENCY_ENV, defaults.max_concurrency, 1),
            heatmap_max_side=_int(env, HEATMAP_MAX_SIDE_ENV, defaults.heatmap_max_side, 0),
            torch_threads=_int(env, TORCH_THREADS_ENV, defaults.torch_threads, 0),
            engine=_engine(env, defaults.engine),
        )

    def inference_threads(self) -> int:
        """``torch_threads``, or when 0 the available cores shared among concurrent inferences."""
        if self.torch_threads:
            return self.torch_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // self.max_concurrency)


def _engine(env: Mapping[str, str], default: str) -> str:
    raw = env.get(ENGINE_ENV, "").strip()
    try:
        return engine_preference(raw or default)
    except ValueError:
        raise ValueError(f"{ENGINE_ENV}={raw!r} is not an inference engine; use auto, onnx or torch") from None


def _int(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < low:
        raise ValueError(f"{name}={value} must be at least {low}")
    return value
