"""Training throughput of the full input pipeline against a bare forward+backward step.

Both are measured here, in the same run, on the same model, batch size and image size:

* bare: forward + backward + optimizer step on one batch of tensors already in memory;
* pipeline: what ``pneumolib.training.trainer.train_one_epoch`` does per batch: index the cached
  uint8 array, convert, augment, forward, backward, step.

The ratio pipeline / bare is the input pipeline's efficiency (goal: >= 0.9 on CPU). Run it on an
otherwise idle machine:  python scripts/bench_training.py --batches 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from pneumolib.engine import to_model_input
from pneumolib.models import create_model
from pneumolib.data.augment import AugmentConfig, augment_batch
from pneumolib.training.trainer import pick_device


def measure(step, batches: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(batches):
        step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="efficientnet_lite0")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device")
    args = parser.parse_args()

    device = pick_device(args.device)
    torch.manual_seed(0)
    model = create_model(args.architecture, pretrained=False).to(device).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    amp = device.type == "cuda"
    rng = np.random.default_rng(0)
    cache = rng.integers(0, 256, size=(2048, args.image_size, args.image_size), dtype=np.uint8)  # stands in for the image cache
    labels = rng.integers(0, 2, size=len(cache))
    weights = torch.tensor([1.8, 0.7], device=device)
    fixed = torch.rand(args.batch_size, 1, args.image_size, args.image_size, device=device).contiguous(memory_format=torch.channels_last)
    fixed_y = torch.as_tensor(labels[: args.batch_size], device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    order = rng.permutation(len(cache))
    position = [0]

    def update(images: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(images).float(), y, weight=weights, label_smoothing=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def bare_step() -> None:
        update(fixed, fixed_y)

    def pipeline_step() -> None:
        start = position[0] % (len(cache) - args.batch_size)
        position[0] += args.batch_size
        index = np.sort(order[start : start + args.batch_size])
        images = augment_batch(to_model_input(cache[index], device), generator, AugmentConfig())
        update(images.contiguous(memory_format=torch.channels_last), torch.as_tensor(labels[index], device=device))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    results = {}
    for name, step in (("bare", bare_step), ("pipeline", pipeline_step), ("bare again", bare_step)):
        seconds = measure(lambda: (step(), sync()), args.batches, args.warmup)
        results[name] = args.batches * args.batch_size / seconds
        print(f"{name:>10}: {results[name]:7.1f} images/s")
    bare = (results["bare"] + results["bare again"]) / 2
    print(f"device {device}, threads {torch.get_num_threads()}, {args.architecture} {args.image_size}px batch {args.batch_size}")
    print(f"pipeline efficiency (pipeline / mean bare): {results['pipeline'] / bare:.3f}")


if __name__ == "__main__":
    main()
