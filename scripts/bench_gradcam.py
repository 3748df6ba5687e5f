"""Latency of a heatmap compared with a plain prediction, on this machine, in one run.

Measures, for batch 1 at the checkpoint's input size (224 px by default):

* ``predict``: forward pass only, no autograd (what serving a prediction costs);
* ``head path``: :class:`pneumolib.explain.HeadOnlyGradCAM`, prediction + heatmap, the backbone run
  once without autograd and pytorch_grad_cam run on the classifier head only;
* ``library path``: :class:`pneumolib.explain.FullModelGradCAM`, prediction + heatmap with
  pytorch_grad_cam on the whole model (full backward through the backbone).

The three are timed in interleaved rounds so that background load hits them alike; the median
over rounds is reported with each path's ratio to ``predict``. The project's goal is a heatmap
within 3x of the prediction alone on CPU.

    python scripts/bench_gradcam.py --repeats 20
    python scripts/bench_gradcam.py --checkpoint pneumo_work/train/best.pt --threads 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _timing import interleaved_timings

from pneumolib.checkpoint import find_checkpoint, load_checkpoint
from pneumolib.config import work_dir
from pneumolib.explain import FullModelGradCAM, HeadOnlyGradCAM
from pneumolib.models import OFFLINE_ARCHITECTURE, create_model


def pick_model(checkpoint: str | None) -> tuple[torch.nn.Module, int, str]:
    """The given checkpoint, else the trained one, else Lite0 with ImageNet weights."""
    if checkpoint == "imagenet":
        path = None
    elif checkpoint is None:
        path, _ = find_checkpoint()
        if not path.is_file():
            trained = sorted(work_dir(create=False).glob("*/best.pt"), key=lambda p: p.stat().st_mtime)
            path = trained[-1] if trained else None
    else:
        path = Path(checkpoint)
        if not path.is_file():
            raise SystemExit(f"no checkpoint at {path}")
    if path is not None and path.is_file():
        model, metadata = load_checkpoint(path)
        return model, int(metadata.get("image_size", 224)), str(path)
    imagenet = create_model(OFFLINE_ARCHITECTURE, pretrained=True).eval()
    return imagenet, 224, f"{OFFLINE_ARCHITECTURE} (ImageNet weights, random head)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint file, or 'imagenet' for Lite0 with ImageNet weights "
                             "(default: the trained one if present, else imagenet)")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--size", type=int, default=None, help="input size (default: the checkpoint's)")
    parser.add_argument("--method", default="gradcam")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model, size, source = pick_model(args.checkpoint)
    size = args.size or size
    rng = np.random.default_rng(0)
    image = torch.as_tensor(rng.integers(0, 256, (1, 1, size, size), dtype=np.uint8)).float().div(255.0)
    head, library = HeadOnlyGradCAM(model, args.method), FullModelGradCAM(model, args.method)

    def predict() -> None:
        with torch.no_grad():
            model(image)

    paths: dict[str, Callable[[], object]] = {
        "predict": predict,
        "head path": lambda: head.explain(image),
        "library path": lambda: library.explain(image),
    }
    same = np.abs(head.explain(image).heatmaps - library.explain(image).heatmaps).max()
    times = interleaved_timings(paths, args.repeats, args.warmup)

    print(f"model: {source}")
    print(f"input: 1 x 1 x {size} x {size}, method {args.method}, {args.repeats} rounds, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"max |head - library| heatmap difference: {same:.2e}")
    base = statistics.median(times["predict"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>13}: median {median * 1e3:7.1f} ms  (min {min(values) * 1e3:6.1f}, max {max(values) * 1e3:6.1f})"
              f"  ratio to predict {median / base:4.2f}x")


if __name__ == "__main__":
    main()
