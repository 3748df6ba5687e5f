"""The service's tunable limits, read once from environment variables.

Operators size a deployment without touching code (a small VM wants fewer parallel inferences,
a PACS bridge may need a larger upload limit), and a typo should stop the server at startup
with a message that names the variable, not surface later as a confusing request failure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pneumolib import environment
from pneumolib.decode.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from pneumolib.engine.choice import ENGINE_ENV, engine_preference

MAX_UPLOAD_BYTES_ENV = environment.MAX_UPLOAD_BYTES
MAX_PIXELS_ENV = environment.MAX_PIXELS
MAX_CONCURRENCY_ENV = environment.MAX_CONCURRENCY
HEATMAP_MAX_SIDE_ENV = environment.HEATMAP_MAX_SIDE
TORCH_THREADS_ENV = environment.TORCH_THREADS
API_KEY_ENV = environment.API_KEY
CLIENT_IN_FLIGHT_ENV = environment.CLIENT_MAX_IN_FLIGHT
CLIENT_RATE_ENV = environment.CLIENT_RATE_PER_MINUTE
CLIENT_BURST_ENV = environment.CLIENT_BURST
HEATMAP_IDLE_SLOT_ENV = environment.HEATMAP_IDLE_SLOT
MIN_API_KEY_LENGTH = 16


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

    api_key: str = ""
    """When set, ``/predict`` and ``/model`` need it (see :mod:`pneumolib.serving.access`); empty:
    open, as suits a service only its owner can reach."""
    client_max_in_flight: int = 4
    """Requests one client may have waiting or running at once (0: no limit); see
    :mod:`pneumolib.serving.fairness`. The page may have a superseded request still running."""
    client_rate_per_minute: float = 0.0
    """Sustained requests per minute per client after a burst of ``client_burst`` (0: no rate
    limit, the local default; notebook 06 sets one before opening a public tunnel)."""
    client_burst: int = 20
    heatmap_idle_slot: bool = True
    """A heatmap request that finds an inference slot idle borrows it for its six occlusions, and
    gives it back as soon as another request waits (``serving.slots``; ``scripts/bench_occlusion.py``
    times it). Off on a public URL (notebook 06), where one visitor should not take both cores and
    a heatmap's speed should not depend on whether strangers happen to be sending films."""

    def __post_init__(self) -> None:
        engine_preference(self.engine)  # raises on an unknown engine name
        for name, low in (("max_upload_bytes", 1), ("max_pixels", 1), ("max_concurrency", 1),
                          ("heatmap_max_side", 0), ("torch_threads", 0), ("client_max_in_flight", 0),
                          ("client_rate_per_minute", 0), ("client_burst", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")
        if self.api_key and (len(self.api_key) < MIN_API_KEY_LENGTH or self.api_key != self.api_key.strip()):
            raise ValueError(f"{API_KEY_ENV} must be at least {MIN_API_KEY_LENGTH} characters with no spaces around it "
                             "(for example: python -c \"import secrets; print(secrets.token_urlsafe(24))\")")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Defaults overridden by ``PNEUMO_MAX_UPLOAD_BYTES``, ``PNEUMO_MAX_PIXELS``,
        ``PNEUMO_MAX_CONCURRENCY``, ``PNEUMO_HEATMAP_MAX_SIDE``, ``PNEUMO_TORCH_THREADS``,
        ``PNEUMO_ENGINE``, ``PNEUMO_API_KEY``, ``PNEUMO_CLIENT_MAX_IN_FLIGHT``,
        ``PNEUMO_CLIENT_RATE_PER_MINUTE``, ``PNEUMO_CLIENT_BURST`` and ``PNEUMO_HEATMAP_IDLE_SLOT``."""
        env = environ  # None: the process environment (pneumolib.environment.read)
        defaults = cls()
        return cls(
            max_upload_bytes=_int(env, MAX_UPLOAD_BYTES_ENV, defaults.max_upload_bytes, 1),
            max_pixels=_int(env, MAX_PIXELS_ENV, defaults.max_pixels, 1),
            max_concurrency=_int(env, MAX_CONCURRENCY_ENV, defaults.max_concurrency, 1),
            heatmap_max_side=_int(env, HEATMAP_MAX_SIDE_ENV, defaults.heatmap_max_side, 0),
            torch_threads=_int(env, TORCH_THREADS_ENV, defaults.torch_threads, 0),
            engine=_engine(env, defaults.engine),
            api_key=environment.read(API_KEY_ENV, env) or "",
            client_max_in_flight=_int(env, CLIENT_IN_FLIGHT_ENV, defaults.client_max_in_flight, 0),
            client_rate_per_minute=_int(env, CLIENT_RATE_ENV, int(defaults.client_rate_per_minute), 0),
            client_burst=_int(env, CLIENT_BURST_ENV, defaults.client_burst, 1),
            heatmap_idle_slot=_flag(env, HEATMAP_IDLE_SLOT_ENV, defaults.heatmap_idle_slot),
        )

    def inference_threads(self) -> int:
        """``torch_threads``, or when 0 the available cores shared among concurrent inferences."""
        if self.torch_threads:
            return self.torch_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // self.max_concurrency)


def _engine(env: Mapping[str, str] | None, default: str) -> str:
    raw = environment.read(ENGINE_ENV, env) or ""
    try:
        return engine_preference(raw or default)
    except ValueError:
        raise ValueError(f"{ENGINE_ENV}={raw!r} is not an inference engine; use auto, onnx or torch") from None


def _flag(env: Mapping[str, str] | None, name: str, default: bool) -> bool:
    raw = (environment.read(name, env) or "").strip()
    if not raw:
        return default
    if raw not in {"0", "1"}:
        raise ValueError(f"{name}={raw!r} must be 0 (off) or 1 (on)")
    return raw == "1"


def _int(env: Mapping[str, str] | None, name: str, default: int, low: int) -> int:
    raw = environment.read(name, env) or ""
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < low:
        raise ValueError(f"{name}={value} must be at least {low}")
    return value
