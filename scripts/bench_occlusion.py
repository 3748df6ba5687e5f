"""What scoring a heatmap's six lung-zone occlusions costs, three ways, in one run.

The service scores the six hidden copies of a film with one engine thread per request (the cores
shared among its inference slots). This times, in interleaved rounds on the sample film with the
checkpoint the service would load and the engine it would pick:

* ``batch of six``: one engine call for all six (what a GPU does);
* ``one by one``: six single-image calls (:func:`pneumolib.explain.occlusion.probabilities_one_by_one`,
  what a heatmap request does on a CPU when no slot is idle, and always on a public URL);
* ``one by one, lent core``: the same with a second thread on an idle slot's core
  (:mod:`pneumolib.engine.lending`; the service's default on a CPU when a slot is free);

and prints each median with its ratio to the batch of six, and the largest difference in
P(pneumonia) between the ways. It measures; it asserts nothing.

    python scripts/bench_occlusion.py --repeats 20
    python scripts/bench_occlusion.py --repeats 20 --device cuda
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path

import numpy as np
import torch
from _timing import interleaved_timings
from threadpoolctl import threadpool_limits

from pneumolib.checkpoint import find_checkpoint
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.decode.image import decode_image
from pneumolib.engine import Engine
from pneumolib.explain.occlusion import occluded, occlusion_fill_of, probabilities, probabilities_one_by_one
from pneumolib.explain.zones import lung_zones
from pneumolib.inference import engine_for_checkpoint
from pneumolib.samples import SAMPLE_FILM


class SpareCore:
    """A lent core nobody asks back (an otherwise idle service)."""

    def keep(self) -> bool:
        return True

    def give_back(self) -> None:
        pass


def describe(engine: Engine) -> str:
    found = engine.describe()
    return f"engine {found.get('engine')} ({found.get('runtime', 'torch ' + torch.__version__)}, {found.get('device', '')})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the checkpoint the service would load")
    parser.add_argument("--image", default=None, help="default: the bundled sample film")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="engine threads per call (the service: cores / slots)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # the ONNX session takes this many threads, as in the service
    threadpool_limits(limits=1, user_api="blas")
    engine, _, metadata = engine_for_checkpoint(args.checkpoint or find_checkpoint()[0], args.device)
    temperature = float(metadata.get("temperature", 1.0))
    path = Path(args.image) if args.image else SAMPLE_FILM
    pixels = decode_image(path.read_bytes(), path.name, None).pixels
    canonical = canonical_image(pixels, int(metadata["image_size"]), metadata["jpeg_quality"])
    hidden = occluded(canonical.astype(np.float32) / 255.0, lung_zones(canonical).masks, occlusion_fill_of(metadata))
    ways = {
        "batch of six": lambda: probabilities(engine, hidden, temperature),
        "one by one": lambda: probabilities_one_by_one(engine, hidden, temperature),
        "one by one, lent core": lambda: probabilities_one_by_one(engine, hidden, temperature,
                                                                  SpareCore()),
    }
    answers = {name: way() for name, way in ways.items()}  # also the warm-up
    timings = interleaved_timings(ways, args.repeats)
    base = statistics.median(timings["batch of six"])
    print(f"{platform.processor() or platform.machine()}, {args.threads} engine thread(s) per call, "
          f"{args.repeats} rounds, {describe(engine)}")
    print(f"{'way':<24}{'median ms':>10}{'/ batch of six':>16}")
    for name, seconds in timings.items():
        middle = statistics.median(seconds)
        print(f"{name:<24}{1000 * middle:>10.1f}{middle / base:>15.2f}x")
    reference = answers["batch of six"]
    worst = max(float(np.abs(answer - reference).max()) for answer in answers.values())
    print(f"largest difference in P(pneumonia) between the ways: {worst:.1e}")


if __name__ == "__main__":
    main()
