"""Training throughput of one process against N data-parallel processes (torchrun), same global batch.

Both runs are the real command, ``python -m pneumolib train``, for one epoch on the same images;
the second is launched by ``torchrun --standalone --nproc_per_node=N`` with the per-process batch
divided by N, so both take the same steps. Each run's ``history.csv`` holds its training
images per second (for DDP: all images over rank 0's epoch time); the script prints both and the
ratio. On GPUs each process gets its own GPU; on a CPU the processes share the cores.

    python scripts/bench_ddp.py --data PATH/chest_xray --nproc 2 [--images 400 --image-size 128 --batch-size 16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd


def run(command: list[str], out: Path, env: dict[str, str]) -> float:
    """Run one training command; its first epoch's training images per second."""
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return float(pd.read_csv(out / "history.csv")["train_images_per_s"].iloc[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the Kermany folder (else $PNEUMO_DATA_DIR)")
    parser.add_argument("--nproc", type=int, default=2, help="processes (GPUs) of the data-parallel run")
    parser.add_argument("--images", type=int, default=400, help="training (and val) images per run, half per class")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16, help="the global batch of both runs")
    args = parser.parse_args()
    if args.batch_size % args.nproc:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by --nproc {args.nproc}")

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = {**os.environ, "PNEUMO_WORK_DIR": str(work), "PNEUMO_CACHE_DIR": str(work / "cache"),
               "PNEUMO_PROFILE": "full", "PNEUMO_MAX_IMAGES": str(args.images)}
        common = ["--offline", "--epochs", "1", "--image-size", str(args.image_size), "--restart"]
        if args.data:
            common += ["--data", args.data]
        single = run([sys.executable, "-m", "pneumolib", "train", *common, "--batch-size", str(args.batch_size),
                      "--out", str(work / "single")], work / "single", env)
        parallel = run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}",
                        "-m", "pneumolib", "train", *common, "--batch-size", str(args.batch_size // args.nproc),
                        "--out", str(work / "ddp")], work / "ddp", env)
    print(f"{args.images} training images at {args.image_size} px, global batch {args.batch_size}, one epoch "
          f"(each run decodes its own image cache first, not timed)")
    print(f"1 process: {single:.1f} images/s; {args.nproc} processes (torchrun): {parallel:.1f} images/s; "
          f"ratio {parallel / single:.2f}x")


if __name__ == "__main__":
    main()
