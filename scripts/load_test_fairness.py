"""Fairness under load: do well-behaved clients keep their latency when one client floods the service?

Well-behaved clients each send one film every ``--pause`` seconds (a person at the page, a small
script), some with a heatmap; the abusive client posts from ``--abusive-connections`` connections
in a loop with no pause and ignores every 429. Each client is its own address behind a local proxy
(``X-Forwarded-For`` from loopback, as through the ngrok agent). Three phases, each on a fresh
server, all in one run so the figures compare like with like:

1. quiet: the well-behaved clients alone (the baseline);
2. flood, per-client limits on (the settings notebook 06 uses for a public URL);
3. flood, per-client limits off (what the limits prevent).

Prints, per phase, the well-behaved clients' requests and latency (p50, p95) against the baseline,
and what the abusive client got. Exits with status 1 when a well-behaved request failed or was
refused, or when the well-behaved p95 with limits on is over ``--max-ratio`` times the baseline.

    python scripts/load_test_fairness.py --seconds 30
"""

from __future__ import annotations

import argparse
import collections
import threading
import time

import httpx
from _server import default_image, percentile, running_server
from load_test import request_mix

from pneumolib.notebook.access import PUBLIC_LIMITS as LIMITS
from pneumolib.serving.settings import CLIENT_BURST_ENV, CLIENT_IN_FLIGHT_ENV, CLIENT_RATE_ENV, HEATMAP_IDLE_SLOT_ENV

# The public URL's settings (notebook 06) in every phase, so the phases differ only in the flood
# and the per-client limits: a heatmap there never borrows an idle slot, quiet or not.
PUBLIC_LIMITS = {CLIENT_IN_FLIGHT_ENV: str(LIMITS["client_max_in_flight"]),
                 CLIENT_RATE_ENV: str(LIMITS["client_rate_per_minute"]), CLIENT_BURST_ENV: str(LIMITS["client_burst"]),
                 HEATMAP_IDLE_SLOT_ENV: str(int(LIMITS["heatmap_idle_slot"]))}
NO_LIMITS = {**PUBLIC_LIMITS, CLIENT_IN_FLIGHT_ENV: "0", CLIENT_RATE_ENV: "0"}


def run_phase(checkpoint: str | None, env: dict[str, str], mix: list, seconds: float, clients: int, pause: float,
              abusive_connections: int) -> dict:
    """One server, ``clients`` paced clients and (when ``abusive_connections``) one flooding client."""
    good_mix = [request for request in mix if request[3] == 200]
    latencies: list[float] = []
    outcomes: collections.Counter[str] = collections.Counter()
    flood: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    with running_server(checkpoint, env) as (url, _):
        with httpx.Client(timeout=120) as warm:
            warm.post(f"{url}/predict", files={"file": good_mix[0][1]})
        stop = time.monotonic() + seconds

        def paced(number: int) -> None:
            headers = {"X-Forwarded-For": f"198.51.100.{number + 1}"}
            with httpx.Client(timeout=120, headers=headers) as client:
                step = number
                time.sleep(pause * number / clients)  # spread the clients' start
                while time.monotonic() < stop:
                    _, upload, query, _ = good_mix[step % len(good_mix)]
                    step += 1
                    began = time.perf_counter()
                    try:
                        status = client.post(f"{url}/predict", files={"file": upload}, params=query).status_code
                    except httpx.HTTPError:
                        status = -1
                    took = time.perf_counter() - began
                    with lock:
                        outcomes[str(status)] += 1
                        if status == 200:
                            latencies.append(took)
                    time.sleep(max(0.0, pause - took))

        def abusive() -> None:
            with httpx.Client(timeout=120, headers={"X-Forwarded-For": "203.0.113.66"}) as client:
                step = 0
                while time.monotonic() < stop:
                    _, upload, query, _ = good_mix[step % len(good_mix)]
                    step += 1
                    try:
                        status = client.post(f"{url}/predict", files={"file": upload}, params=query).status_code
                    except httpx.HTTPError:
                        status = -1
                    with lock:
                        flood[status] += 1

        threads = [threading.Thread(target=paced, args=(i,)) for i in range(clients)]
        threads += [threading.Thread(target=abusive) for _ in range(abusive_connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {"latencies": latencies, "outcomes": outcomes, "flood": flood}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="finalized checkpoint (default: what the service would find)")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each phase (default 30)")
    parser.add_argument("--clients", type=int, default=7, help="well-behaved clients (default 7; with the abusive one: 8)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between a well-behaved client's requests")
    parser.add_argument("--abusive-connections", type=int, default=16, help="parallel connections of the abusive client")
    parser.add_argument("--heatmap-every", type=int, default=4, help="every k-th request asks for a heatmap")
    parser.add_argument("--max-ratio", type=float, default=3.0,
                        help="allowed p95 with limits on / quiet p95 (default 3; with no limits it is about 8)")
    args = parser.parse_args()

    mix = request_mix(default_image(), args.heatmap_every, override=False)
    phases = [("quiet", PUBLIC_LIMITS, 0), ("flood, limits on", PUBLIC_LIMITS, args.abusive_connections),
              ("flood, limits off", NO_LIMITS, args.abusive_connections)]
    results = {name: run_phase(args.checkpoint, env, mix, args.seconds, args.clients, args.pause, connections)
               for name, env, connections in phases}
    base = percentile(results["quiet"]["latencies"], 95)
    print(f"{args.clients} well-behaved clients (one film every {args.pause:g} s, every {args.heatmap_every}th with a "
          f"heatmap); abusive client: {args.abusive_connections} connections, no pause; {args.seconds:g} s per phase")
    print(f"limits on: {', '.join(f'{k}={v}' for k, v in PUBLIC_LIMITS.items())}")
    print(f"{'phase':<20}{'good req':>9}{'p50 ms':>8}{'p95 ms':>8}{'p95/quiet':>10}  well-behaved outcomes | abusive client")
    failures = []
    for name, result in results.items():
        lat = result["latencies"]
        p50, p95 = percentile(lat, 50), percentile(lat, 95)
        flood = ", ".join(f"{status}: {count}" for status, count in sorted(result["flood"].items())) or "-"
        outcomes = ", ".join(f"{status}: {count}" for status, count in sorted(result["outcomes"].items()))
        print(f"{name:<20}{len(lat):>9}{p50 * 1e3:>8.0f}{p95 * 1e3:>8.0f}{p95 / base:>10.2f}  {outcomes} | {flood}")
        if name != "flood, limits off" and set(result["outcomes"]) - {"200"}:
            failures.append(f"{name}: well-behaved requests that did not succeed: {dict(result['outcomes'])}")
    ratio = percentile(results["flood, limits on"]["latencies"], 95) / base
    if ratio > args.max_ratio:
        failures.append(f"with limits on, the well-behaved p95 is {ratio:.2f}x the quiet one (allowed {args.max_ratio:g}x)")
    for failure in failures:
        print(f"FAIL: {failure}")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
