"""Latency of POST /predict against the model's bare forward pass, and throughput, in one run.

Starts the service with uvicorn on loopback (or uses ``--url``), then in interleaved rounds,
so that background load hits all three alike, times:

* ``forward``: the model alone in this process, batch 1 at the checkpoint's input size, under
  ``torch.inference_mode()`` (no decoding, no preprocessing, no HTTP);
* ``/predict``: one upload through the whole service, as a client sees it;
* ``/predict?heatmap=true``: the same plus Grad-CAM and the PNG overlay.

It prints p50/p95 and the ratio of each p50 to the forward pass (goals: <= 1.5x without the
heatmap, <= 3x with it), then the throughput of ``--clients`` concurrent clients. It measures;
it asserts nothing.

    python scripts/bench_api.py --checkpoint /tmp/serve_check.pt --repeats 20
"""

from __future__ import annotations

import argparse
import io
import platform
import threading
import time
from pathlib import Path

import httpx
import torch
from _server import default_image, percentile, running_server, wait_healthy
from PIL import Image

from pneumolib.checkpoint import find_checkpoint, load_checkpoint
from pneumolib.environment import CLIENT_MAX_IN_FLIGHT
from pneumolib.serving.app import cpu_threads
from pneumolib.serving.settings import ServiceSettings

GOALS = {"/predict": 1.5, "/predict?heatmap=true": 3.0}


def time_forward(model: torch.nn.Module, size: int) -> float:
    x = torch.rand(1, 1, size, size)
    start = time.perf_counter()
    with torch.inference_mode():
        model(x)
    return time.perf_counter() - start


def time_request(client: httpx.Client, url: str, upload: tuple[str, bytes, str], params: dict[str, str]) -> float:
    start = time.perf_counter()
    response = client.post(f"{url}/predict", files={"file": upload}, params=params)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"/predict answered {response.status_code}: {response.text[:300]}")
    return elapsed


def throughput(url: str, upload: tuple[str, bytes, str], params: dict[str, str], clients: int,
               seconds: float) -> tuple[int, int, list[float]]:
    """(successes, failures, latencies) of ``clients`` threads posting for ``seconds``."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    ok = client.post(f"{url}/predict", files={"file": upload}, params=params).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        latencies.append(time.perf_counter() - start)
                    else:
                        failures[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), failures[0], latencies


def resized_jpeg(image: Path, width: int, height: int) -> bytes:
    """``image`` re-encoded as a ``width`` x ``height`` JPEG (quality 95): a full-resolution export."""
    with Image.open(image) as opened:
        resized = opened.convert("L").resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def run(url: str, model: torch.nn.Module, size: int, image: Path, args: argparse.Namespace) -> None:
    data = resized_jpeg(image, *args.resize) if args.resize else image.read_bytes()
    upload = (image.name if not args.resize else "resized.jpg", data, "application/octet-stream")
    params = {"allow_non_xray": "true"} if args.allow_non_xray else {}
    paths = {"forward": None, "/predict": params, "/predict?heatmap=true": {**params, "heatmap": "true"}}
    timings: dict[str, list[float]] = {name: [] for name in paths}
    with httpx.Client(timeout=120) as client:
        for _ in range(args.warmup):
            time_forward(model, size)
            for name, query in paths.items():
                if query is not None:
                    time_request(client, url, upload, query)
        for _ in range(args.repeats):
            for name, query in paths.items():
                seconds = time_forward(model, size) if query is None else time_request(client, url, upload, query)
                timings[name].append(seconds)

    base = percentile(timings["forward"], 50)
    print(f"\n{'path':<24}{'p50 ms':>9}{'p95 ms':>9}{'p50 / forward':>15}{'goal':>8}")
    for name, values in timings.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        goal = f"<= {GOALS[name]:g}x" if name in GOALS else ""
        verdict = "" if name not in GOALS else ("  ok" if p50 / base <= GOALS[name] else "  MISSED")
        print(f"{name:<24}{p50 * 1e3:9.1f}{p95 * 1e3:9.1f}{p50 / base:14.2f}x{goal:>8}{verdict}")

    ok, failed, latencies = throughput(url, upload, params, args.clients, args.seconds)
    print(f"\nthroughput, {args.clients} concurrent clients for {args.seconds:g} s (no heatmap): "
          f"{ok / args.seconds:.1f} requests/s, {failed} failed, latency p50 "
          f"{percentile(latencies, 50) * 1e3:.0f} ms, p95 {percentile(latencies, 95) * 1e3:.0f} ms")


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 2000x1500, got {text!r}")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="finalized checkpoint (default: what the service would find)")
    parser.add_argument("--image", type=Path, help="X-ray to upload (default: a test-split image)")
    parser.add_argument("--resize", type=_size, metavar="WxH",
                        help="upload the image re-encoded as a WxH JPEG, e.g. 2000x1500 (a full-size export)")
    parser.add_argument("--url", help="benchmark this running server instead of starting one")
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for throughput (default 8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput duration (default 10)")
    parser.add_argument("--allow-non-xray", action="store_true", help="send allow_non_xray=true")
    args = parser.parse_args()

    # The same thread limits as the server uses, so the comparison is fair.
    with cpu_threads(ServiceSettings.from_env().inference_threads()):
        bench(args)


def bench(args: argparse.Namespace) -> None:
    path, source = find_checkpoint(args.checkpoint)
    model, metadata = load_checkpoint(path)
    size = int(metadata["image_size"])
    image = args.image or default_image()
    print(f"checkpoint: {path} ({source}), input {size} px")
    print(f"image: {image} ({image.stat().st_size / 1024:.0f} kB)"
          + (f", uploaded re-encoded at {args.resize[0]} x {args.resize[1]} px" if args.resize else ""))
    print(f"machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}")
    if args.url:
        wait_healthy(args.url, None, 30)
        run(args.url.rstrip("/"), model, size, image, args)
    else:
        # Every client here comes from one address, so the per-client limit would refuse most of them:
        # throughput is measured without it (load_test_fairness.py measures the limits).
        with running_server(str(path), {CLIENT_MAX_IN_FLIGHT: "0"}) as (url, _):
            run(url, model, size, image, args)


if __name__ == "__main__":
    main()
