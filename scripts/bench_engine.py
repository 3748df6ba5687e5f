"""PyTorch eager against ONNX Runtime on this machine's CPU: same checkpoint, same inputs, one run.

For each engine (:mod:`pneumolib.engine`) it times, in interleaved rounds so that background load
hits both alike:

* batch 1 (what one ``POST /predict`` costs): median latency of the forward pass with every
  output the service reads (logits, gate features, feature map);
* batch ``--batch`` (what evaluation, finalize and the Grad-CAM study do): images per second;

and prints the ratios of ONNX Runtime to PyTorch and the largest logit difference between them.
With ``--views`` it also times ONNX Runtime behind test-time views (:mod:`pneumolib.engine.views`)
in the same rounds and prints what the views cost against the plain pass; with ``--against`` it
times another checkpoint's ONNX engine in the same rounds (a single network beside an ensemble,
say) and prints the ratio. It measures; it asserts nothing.

    python scripts/bench_engine.py --repeats 20 --threads 2
    python scripts/bench_engine.py --repeats 20 --threads 2 --views 0.04
    python scripts/bench_engine.py --checkpoint ensemble.pt --against single.pt --threads 2
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from pneumolib.checkpoint import find_checkpoint
from pneumolib.engine import ViewAveragingEngine, to_model_input
from pneumolib.inference import engine_for_checkpoint

SERVICE_OUTPUTS = ("logits", "gate_features", "feature_map")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the checkpoint the service would load")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (median reported)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for both engines")
    parser.add_argument("--views", help="comma-separated centre crops, e.g. 0.04: also time ONNX Runtime with these views")
    parser.add_argument("--against", metavar="CHECKPOINT", help="also time this checkpoint's ONNX engine as a baseline")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path, _ = find_checkpoint(args.checkpoint)
    engines = {name: engine_for_checkpoint(path, prefer=name)[0] for name in ("torch", "onnx")}
    size = engines["onnx"].image_size
    if args.views:
        engines["onnx+views"] = ViewAveragingEngine(engines["onnx"], [float(c) for c in args.views.split(",")])
    if args.against:
        engines["baseline"] = engine_for_checkpoint(args.against, prefer="onnx")[0]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.batch, size, size), dtype=np.uint8)
    one, many = to_model_input(images[:1]), to_model_input(images)

    logits = {name: engines[name].run(many, ("logits",))["logits"] for name in ("torch", "onnx")}
    difference = float(np.abs(logits["onnx"] - logits["torch"]).max())
    single: dict[str, list[float]] = {name: [] for name in engines}
    batched: dict[str, list[float]] = {name: [] for name in engines}
    for round_ in range(args.repeats + 1):
        for name, engine in engines.items():
            start = time.perf_counter()
            engine.run(one, SERVICE_OUTPUTS)
            middle = time.perf_counter()
            if round_ % 4 == 0:  # a big batch costs seconds: every fourth round is enough
                engine.run(many, ("pooled", "logits"))
                batched[name].append(time.perf_counter() - middle)
            single[name].append(middle - start)

    print(f"checkpoint: {path.name}; input {size} px; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {engines['onnx'].describe()['runtime']}; "
          f"{platform.processor() or platform.machine()}")
    print(f"max |logit difference| onnx vs torch over {args.batch} images: {difference:.1e}")
    print(f"{'engine':<12}{'batch 1 p50 ms':>16}{f'batch {args.batch} images/s':>20}")
    figures = {}
    for name in engines:
        latency = statistics.median(single[name][1:])
        rate = args.batch / statistics.median(batched[name][1:] or batched[name])
        figures[name] = (latency, rate)
        print(f"{name:<12}{latency * 1e3:>16.1f}{rate:>20.1f}")
    print(f"onnx / torch: {figures['torch'][0] / figures['onnx'][0]:.1f}x faster at batch 1, "
          f"{figures['onnx'][1] / figures['torch'][1]:.1f}x the throughput at batch {args.batch}")
    if args.views:
        print(f"views ({engines['onnx+views'].describe()['test_time_views']}) / plain onnx: "
              f"{figures['onnx+views'][0] / figures['onnx'][0]:.2f}x the batch-1 latency")
    if args.against:
        print(f"onnx / baseline ({args.against}): {figures['onnx'][0] / figures['baseline'][0]:.2f}x the batch-1 "
              f"latency, {figures['onnx'][1] / figures['baseline'][1]:.2f}x the throughput")


if __name__ == "__main__":
    main()
