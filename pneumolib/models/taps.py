"""Spatially pooled outputs of chosen layers, captured during an ordinary forward pass.

The not-a-chest-X-ray gate measures middle and late backbone stages, not only the final pooled
features: the last layer is shaped by the two classes the head separates, while the stages below
it still describe what kind of picture this is (film texture, anatomy-like structure), which is
what tells an X-ray from a photo or a document.

Hooks are registered once and write into thread-local storage, so the service's worker threads
can run the same model concurrently and each request gets its own values, from the same single
backbone pass that produces the prediction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


class Capture:
    """What one :meth:`PooledLayerTap.capture` block saw, layer by layer."""

    def __init__(self, layers: Sequence[str]) -> None:
        self.layers = tuple(layers)
        self.outputs: dict[int, torch.Tensor] = {}

    def pooled(self) -> torch.Tensor:
        """(B, sum of the layers' channels): each layer's output averaged over its spatial axes."""
        missing = [name for index, name in enumerate(self.layers) if index not in self.outputs]
        if missing:
            raise RuntimeError(f"no forward pass reached {', '.join(missing)} inside the capture block")
        return torch.cat([self.outputs[index] for index in range(len(self.layers))], dim=1)


class PooledLayerTap:
    """Forward hooks on ``layers`` (names from ``model.named_modules()``) of one model."""

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        if not layers:
            raise ValueError("name at least one layer to tap")
        modules = dict(model.named_modules())
        unknown = [name for name in layers if name not in modules]
        if unknown:
            raise ValueError(f"the model has no layer named {', '.join(map(repr, unknown))}")
        self.layers = tuple(layers)
        self._local = threading.local()
        self._handles = [modules[name].register_forward_hook(self._hook(index))
                         for index, name in enumerate(self.layers)]

    def _hook(self, index: int):  # noqa: ANN202 - a torch hook signature
        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            capture = getattr(self._local, "capture", None)
            if capture is not None:  # only the thread that asked records anything
                capture.outputs[index] = output.detach().float().mean(dim=(2, 3))
        return record

    @contextmanager
    def capture(self) -> Iterator[Capture]:
        """Record the tapped layers for the forward pass this thread runs inside the block.

        With several passes inside one block, the last one's outputs are kept.
        """
        capture = Capture(self.layers)
        self._local.capture = capture
        try:
            yield capture
        finally:
            self._local.capture = None

    def remove(self) -> None:
        """Take the hooks off the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
