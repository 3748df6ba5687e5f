"""Every environment variable pneumolib reads: its name, default and meaning, in one place.

Modules never call ``os.environ`` for a ``PNEUMO_*`` setting themselves: they import the name from
here and read it with :func:`read`, so a newcomer finds every knob in this file, and the README's
table (:func:`markdown_table`, checked by a test) cannot drift from what the code reads.
Validation stays with the code that uses a value (a bad number fails where it is parsed, with a
message that names the variable).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str
    group: str


#: The names modules import (``environment.PROFILE``), declared once and used in the registry below.
DATA_DIR = "PNEUMO_DATA_DIR"
MANIFEST = "PNEUMO_MANIFEST"
WORK_DIR = "PNEUMO_WORK_DIR"
CACHE_DIR = "PNEUMO_CACHE_DIR"
CHECKPOINT = "PNEUMO_CHECKPOINT"
TEST_LOG = "PNEUMO_TEST_LOG"
ONNX_CACHE = "PNEUMO_ONNX_CACHE"
PRETRAINED_WEIGHTS = "PNEUMO_PRETRAINED_WEIGHTS"
PROFILE = "PNEUMO_PROFILE"
OFFLINE = "PNEUMO_OFFLINE"
ENGINE = "PNEUMO_ENGINE"
DIST_BACKEND = "PNEUMO_DIST_BACKEND"
DIST_TIMEOUT_MINUTES = "PNEUMO_DIST_TIMEOUT_MINUTES"
MAX_UPLOAD_BYTES = "PNEUMO_MAX_UPLOAD_BYTES"
MAX_PIXELS = "PNEUMO_MAX_PIXELS"
MAX_CONCURRENCY = "PNEUMO_MAX_CONCURRENCY"
HEATMAP_MAX_SIDE = "PNEUMO_HEATMAP_MAX_SIDE"
TORCH_THREADS = "PNEUMO_TORCH_THREADS"
API_KEY = "PNEUMO_API_KEY"
CLIENT_MAX_IN_FLIGHT = "PNEUMO_CLIENT_MAX_IN_FLIGHT"
CLIENT_RATE_PER_MINUTE = "PNEUMO_CLIENT_RATE_PER_MINUTE"
CLIENT_BURST = "PNEUMO_CLIENT_BURST"
HEATMAP_IDLE_SLOT = "PNEUMO_HEATMAP_IDLE_SLOT"
TUNNEL_LOGIN = "PNEUMO_TUNNEL_LOGIN"

_VARIABLES = [
    # where things are
    Variable(DATA_DIR, "a kagglehub download", "The data set folder (split/label/files).", "data and files"),
    Variable(MANIFEST, "the committed data_manifest.csv", "The split to use instead of the reference one.",
             "data and files"),
    Variable(WORK_DIR, "./pneumo_work (Drive in Colab)", "Checkpoints, reports and caches; quick-profile "
             "runs go to its quick/ subfolder.", "data and files"),
    Variable(CACHE_DIR, "<work dir>/cache (the runtime's disk in Colab)", "Decoded-image caches (uint8 arrays).",
             "data and files"),
    Variable(CHECKPOINT, "the work folder's model, else the bundled one", "The model to serve and evaluate.",
             "data and files"),
    Variable(TEST_LOG, "docs/test_split_access.csv in a clone", "Where each look at the test split is "
             "logged.", "data and files"),
    Variable(ONNX_CACHE, "~/.cache/pneumolib/onnx", "Exported ONNX graphs, by checkpoint sha256.",
             "data and files"),
    Variable(PRETRAINED_WEIGHTS, "none", "An ImageNet weights file for the backbone (offline B0).",
             "data and files"),
    # how runs behave
    Variable(PROFILE, "full", "full (all films) or quick (a few hundred, one epoch: what CI runs).", "runs"),
    Variable(OFFLINE, "0", "1: never try a download (data, weights).", "runs"),
    Variable(ENGINE, "auto", "auto, onnx or torch: which engine runs the model.", "runs"),
    Variable(DIST_BACKEND, "nccl on GPUs, gloo on CPUs", "Force the torchrun backend.", "runs"),
    Variable(DIST_TIMEOUT_MINUTES, "30", "How long a training process waits for the others.", "runs"),
    # the service
    Variable(MAX_UPLOAD_BYTES, "20 MB", "Largest upload; bigger ones get 413 unread.", "service"),
    Variable(MAX_PIXELS, "40 million", "Largest width x height, checked from the header.", "service"),
    Variable(MAX_CONCURRENCY, "2", "Inferences at once; the rest queue.", "service"),
    Variable(HEATMAP_MAX_SIDE, "1024", "The heatmap overlay's longer side (0: full size).", "service"),
    Variable(TORCH_THREADS, "cores / concurrency", "Threads per inference.", "service"),
    Variable(API_KEY, "none (open)", "A key /predict and /model then require (16+ characters).", "service"),
    Variable(CLIENT_MAX_IN_FLIGHT, "4", "Requests one client may have waiting or running (0: no limit).",
             "service"),
    Variable(CLIENT_RATE_PER_MINUTE, "0 (off)", "Requests a minute per client after the burst.", "service"),
    Variable(CLIENT_BURST, "20", "Requests a client may send at once before the rate applies.", "service"),
    Variable(HEATMAP_IDLE_SLOT, "1 (0 on a public URL)", "1: a heatmap request borrows an idle inference slot "
             "for its occlusions.", "service"),
    Variable(TUNNEL_LOGIN, "none (open)", "user:password ngrok asks for (notebook 06; a Colab secret).",
             "service"),
]
VARIABLES: dict[str, Variable] = {variable.name: variable for variable in _VARIABLES}


def read(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, stripped; None when it is unset or blank. ``name`` must be listed above."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not one of pneumolib's environment variables (pneumolib.environment)")
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def markdown_table() -> str:
    """The README's table of every variable, grouped, with its default and meaning."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for group in dict.fromkeys(variable.group for variable in _VARIABLES):
        lines.append(f"| **{group}** | | |")
        lines += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in _VARIABLES if v.group == group]
    return "\n".join(lines)
