"""The ONNX Runtime engine: the exported graph on the CPU, several times faster than PyTorch eager.

Graphs are exported once per checkpoint and kept in a cache folder, named by the checkpoint's
sha256 and the graph's layout, next to a small JSON record holding the graph's own sha256. A
cached graph whose bytes, checkpoint or layout do not match its record is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pneumolib import environment
from pneumolib.engine.base import Engine, check_outputs
from pneumolib.engine.onnx_graph import (
    GRAPH_VERSION,
    OPSET,
    PARITY_TOLERANCE,
    EngineUnavailable,
    export_graph,
    parity_error,
)
from pneumolib.models.classifier import PneumoniaClassifier

logger = logging.getLogger(__name__)

ONNX_CACHE_ENV = environment.ONNX_CACHE


def onnx_cache_dir() -> Path:
    """``$PNEUMO_ONNX_CACHE``, else ``~/.cache/pneumolib/onnx``."""
    env = environment.read(ONNX_CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "pneumolib" / "onnx"


def _layout(image_size: int, gate_layers: Sequence[str]) -> dict[str, object]:
    return {"graph_version": GRAPH_VERSION, "opset": OPSET, "image_size": int(image_size),
            "gate_layers": list(gate_layers), "torch": torch.__version__.split("+")[0]}


def _session(graph: bytes, threads: int | None) -> object:
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise EngineUnavailable("the ONNX engine needs onnxruntime: pip install onnxruntime") from error
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def cached_graph(model: PneumoniaClassifier, checkpoint_sha256: str | None, image_size: int,
                 gate_layers: Sequence[str], cache_dir: Path | None = None) -> tuple[bytes, str]:
    """The graph's bytes and where they came from ("cache", "exported", "exported (not cached)")."""
    if not checkpoint_sha256:
        return export_graph(model, image_size, gate_layers), "exported (not cached)"
    layout = _layout(image_size, gate_layers)
    layout_key = hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()[:12]
    folder = cache_dir or onnx_cache_dir()
    graph_file = folder / f"{checkpoint_sha256[:16]}-{layout_key}.onnx"
    record_file = graph_file.with_suffix(".json")
    if graph_file.is_file() and record_file.is_file():
        try:
            record = json.loads(record_file.read_text())
            graph = graph_file.read_bytes()
            if (record.get("checkpoint_sha256") == checkpoint_sha256 and record.get("layout") == layout
                    and record.get("onnx_sha256") == hashlib.sha256(graph).hexdigest()):
                return graph, "cache"
            logger.warning("cached ONNX graph %s does not match its record; exporting it again", graph_file.name)
        except (OSError, ValueError) as error:
            logger.warning("cached ONNX graph %s is unreadable (%s); exporting it again", graph_file.name, error)
    graph = export_graph(model, image_size, gate_layers)
    record = {"checkpoint_sha256": checkpoint_sha256, "layout": layout,
              "onnx_sha256": hashlib.sha256(graph).hexdigest()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = graph_file.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(graph)
        os.replace(partial, graph_file)  # atomic: a reader never sees half a graph
        record_file.write_text(json.dumps(record, indent=1))
        return graph, "exported"
    except OSError as error:
        logger.warning("could not cache the ONNX graph in %s (%s); it is used from memory", folder, error)
        return graph, "exported (not cached)"


class OnnxEngine(Engine):
    """ONNX Runtime (CPU provider) on the graph exported from one checkpoint's weights."""

    name = "onnx"

    def __init__(self, model: PneumoniaClassifier, image_size: int, gate_layers: Sequence[str] = (),
                 checkpoint_sha256: str | None = None, threads: int | None = None,
                 cache_dir: Path | None = None) -> None:
        self.gate_layers = tuple(gate_layers)
        self.image_size = int(image_size)
        self.feature_dim = int(model.head.in_features)
        graph, self.source = cached_graph(model, checkpoint_sha256, image_size, self.gate_layers, cache_dir)
        self.session = _session(graph, threads)
        self.parity = parity_error(model, self.session, self.image_size)
        if not self.parity <= PARITY_TOLERANCE:
            raise EngineUnavailable(f"the ONNX graph disagrees with PyTorch by {self.parity:.2g} in the logits "
                                    f"(limit {PARITY_TOLERANCE:g})")

    def describe(self) -> dict[str, str]:
        import onnxruntime

        return {"engine": self.name, "device": "cpu", "runtime": f"onnxruntime {onnxruntime.__version__}",
                "graph": self.source, "parity_max_abs_logit_diff": f"{self.parity:.1e}"}

    def run(self, batch: np.ndarray | torch.Tensor, outputs: Sequence[str]) -> dict[str, np.ndarray]:
        check_outputs(outputs)
        if isinstance(batch, torch.Tensor):
            batch = batch.detach().float().cpu().numpy()
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != (1, self.image_size, self.image_size):
            raise ValueError(f"the ONNX engine takes (B, 1, {self.image_size}, {self.image_size}) batches, "
                             f"got {batch.shape}")
        values = self.session.run(list(outputs), {"images": batch})
        return dict(zip(outputs, values))
