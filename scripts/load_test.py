"""Load test: concurrent clients against a real server for N seconds; errors must be 0, memory flat.

Starts ``uvicorn pneumolib.serving.asgi:app`` on loopback, then ``--clients`` threads post a mix of
uploads in a loop: the X-ray as JPEG and as PNG, every few requests with a heatmap, and some bad
uploads (empty, garbage, text) that must get their 4xx. An error is any other status, a 5xx or a
failed connection. The server's resident memory is sampled throughout and reported at the start
(after warm-up), the middle and the end: it should stay flat, not climb with each request.

    python scripts/load_test.py --checkpoint /tmp/serve_check.pt --seconds 30

Exits with status 1 when there was any error.
"""

from __future__ import annotations

import argparse
import collections
import io
import itertools
import threading
import time
from pathlib import Path

import httpx
from _server import default_image, percentile, rss_mb, running_server
from PIL import Image

from pneumolib.environment import CLIENT_MAX_IN_FLIGHT

Request = tuple[str, tuple[str, bytes, str], dict[str, str], int]


def request_mix(image: Path, heatmap_every: int, override: bool) -> list[Request]:
    """(label, upload, query, expected status) cycled through by every client."""
    with Image.open(image) as opened:
        gray = opened.convert("L")
    png = io.BytesIO()
    gray.save(png, "PNG")
    jpeg = image.read_bytes()
    base = {"allow_non_xray": "true"} if override else {}
    good = [("jpeg", (image.name, jpeg, "image/jpeg"), base, 200),
            ("png", ("xray.png", png.getvalue(), "image/png"), {**base, "operating_point": "balanced"}, 200)]
    bad = [("empty", ("x.png", b"", "image/png"), {}, 400),
           ("garbage", ("x.png", bytes(range(256)) * 16, "image/png"), {}, 400),
           ("text", ("x.txt", b"not an image at all\n" * 10, "text/plain"), {}, 415)]
    rounds = max(heatmap_every, 1)
    mix = []
    for i in range(2 * rounds):  # the last round of both kinds asks for a heatmap
        label, upload, query, status = good[i % 2]
        if heatmap_every and i // 2 == rounds - 1:
            label, query = f"{label}+heatmap", {**query, "heatmap": "true"}
        mix.append((label, upload, query, status))
    return mix + bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="finalized checkpoint (default: what the service would find)")
    parser.add_argument("--image", type=Path, help="X-ray to upload (default: a test-split image)")
    parser.add_argument("--seconds", type=float, default=30.0, help="test duration (default 30)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--heatmap-every", type=int, default=4, help="every k-th good request asks for a heatmap")
    parser.add_argument("--allow-non-xray", action="store_true", help="send allow_non_xray=true with good uploads")
    args = parser.parse_args()

    image = args.image or default_image()
    mix = request_mix(image, args.heatmap_every, args.allow_non_xray)
    # All clients share one address: without lifting the per-client limit most would get 429
    # (load_test_fairness.py measures the limits).
    with running_server(args.checkpoint, {CLIENT_MAX_IN_FLIGHT: "0"}) as (url, pid):
        with httpx.Client(timeout=120) as client:  # warm up, and check the good uploads are accepted
            for label, upload, query, status in mix:
                got = client.post(f"{url}/predict", files={"file": upload}, params=query).status_code
                if got != status:
                    hint = " (try --allow-non-xray or another --image)" if got == 422 else ""
                    raise SystemExit(f"warm-up: '{label}' got {got}, expected {status}{hint}")
        rss = [(0.0, rss_mb(pid))]
        counts: collections.Counter[str] = collections.Counter()
        errors: list[str] = []
        latencies: list[float] = []
        lock = threading.Lock()
        start = time.monotonic()
        stop = start + args.seconds

        def client_loop(offset: int) -> None:
            # each thread is its own client, as the service's per-client limits see them behind a local proxy
            with httpx.Client(timeout=120, headers={"X-Forwarded-For": f"198.51.100.{offset + 1}"}) as client:
                for label, upload, query, status in itertools.islice(itertools.cycle(mix), offset, None):
                    if time.monotonic() >= stop:
                        return
                    began = time.perf_counter()
                    try:
                        got = client.post(f"{url}/predict", files={"file": upload}, params=query).status_code
                    except httpx.HTTPError as error:
                        got, problem = -1, f"{label}: {type(error).__name__}: {error}"
                    else:
                        problem = f"{label}: got {got}, expected {status}" if got != status else ""
                    with lock:
                        counts[f"{label} -> {got}"] += 1
                        latencies.append(time.perf_counter() - began)
                        if problem:
                            errors.append(problem)

        def sampler() -> None:
            while time.monotonic() < stop:
                time.sleep(0.5)
                rss.append((time.monotonic() - start, rss_mb(pid)))

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
        threads.append(threading.Thread(target=sampler))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rss.append((time.monotonic() - start, rss_mb(pid)))
        elapsed = time.monotonic() - start

    total = sum(counts.values())
    print(f"server: {url}, {args.clients} clients for {elapsed:.1f} s, image {image.name}")
    print(f"requests: {total} ({total / elapsed:.1f}/s), latency p50 {percentile(latencies, 50) * 1e3:.0f} ms, "
          f"p95 {percentile(latencies, 95) * 1e3:.0f} ms")
    for key, count in sorted(counts.items()):
        print(f"  {key:<28}{count:6d}")
    middle = min(rss, key=lambda sample: abs(sample[0] - elapsed / 2))
    print(f"server RSS: start {rss[0][1]:.0f} MB, middle {middle[1]:.0f} MB, end {rss[-1][1]:.0f} MB, "
          f"max {max(value for _, value in rss):.0f} MB")
    print(f"errors: {len(errors)}")
    for problem in errors[:10]:
        print(f"  {problem}")
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()
