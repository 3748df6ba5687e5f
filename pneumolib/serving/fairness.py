"""Per-client fairness on a public URL: one noisy client cannot hold every inference slot.

The service runs at most ``max_concurrency`` inferences at once and queues the rest; without a
per-client limit, one client posting in a loop (or from many connections) fills that queue and
everyone else waits behind it. Two limits apply to ``POST /predict``, per client:

* **in flight**: at most ``client_max_in_flight`` of its requests are being handled or queued;
  one more is refused at once;
* **rate**: a token bucket of ``client_burst`` requests, refilled at ``client_rate_per_minute``;
  a client that spends it waits for the next token.

A refusal is a 429 with ``Retry-After`` (whole seconds) and a sentence saying which limit was
hit, sent before the upload is read. A client is its address; behind a proxy on the same machine
(the ngrok agent, a local reverse proxy) every request comes from loopback, so for loopback peers
the address the proxy appended last to ``X-Forwarded-For`` is used instead (the entries before it
are whatever the client claimed and are ignored). Either limit is switched off with 0.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pneumolib.serving.handlers import error_response

LIMITED_PATHS = ("/predict",)
MAX_TRACKED_CLIENTS = 10_000  # idle clients are forgotten beyond this, so memory stays bounded


def client_address(scope: Scope) -> str:
    """The client's address; for a loopback peer, the last ``X-Forwarded-For`` entry when there is one."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        loopback = peer in ("localhost", "testclient")
    if loopback:
        forwarded = [part.strip() for part in Headers(scope=scope).get("x-forwarded-for", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return peer


@dataclass
class _Client:
    tokens: float
    updated: float
    in_flight: int = 0


class ClientLimits:
    """The bookkeeping: a token bucket and an in-flight count per client (thread-safe)."""

    def __init__(self, rate_per_minute: float, burst: int, max_in_flight: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = max(1, burst)
        self.max_in_flight = max_in_flight
        self.clock = clock
        self.clients: dict[str, _Client] = {}
        self.lock = threading.Lock()

    def acquire(self, client: str) -> tuple[str, int] | None:
        """None when the request may go ahead (and is counted), else (reason, seconds to wait)."""
        now = self.clock()
        with self.lock:
            state = self.clients.get(client)
            if state is None:
                if len(self.clients) >= MAX_TRACKED_CLIENTS:
                    self._forget_idle(now)
                state = self.clients[client] = _Client(tokens=float(self.burst), updated=now)
            if self.rate > 0:
                state.tokens = min(self.burst, state.tokens + (now - state.updated) * self.rate)
                state.updated = now
            if self.max_in_flight and state.in_flight >= self.max_in_flight:
                return (f"This client already has {state.in_flight} requests waiting or running (the limit is "
                        f"{self.max_in_flight}). Wait for an answer before sending the next film.", 1)
            if self.rate > 0 and state.tokens < 1:
                wait = max(1, math.ceil((1 - state.tokens) / self.rate))
                return (f"Too many requests from this client: at most {self.rate * 60:g} a minute after a burst of "
                        f"{self.burst}. Try again in {wait} s.", wait)
            if self.rate > 0:
                state.tokens -= 1
            state.in_flight += 1
            return None

    def release(self, client: str) -> None:
        with self.lock:
            state = self.clients.get(client)
            if state is not None:
                state.in_flight = max(0, state.in_flight - 1)

    def _forget_idle(self, now: float) -> None:
        idle = [name for name, state in self.clients.items()
                if state.in_flight == 0 and (self.rate <= 0 or state.tokens + (now - state.updated) * self.rate >= self.burst)]
        for name in idle:
            del self.clients[name]


class ClientLimiter:
    """ASGI middleware: :class:`ClientLimits` on the limited paths; 429 with ``Retry-After`` when refused."""

    def __init__(self, app: ASGIApp, limits: ClientLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in LIMITED_PATHS or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        refused = self.limits.acquire(client)
        if refused is not None:
            detail, wait = refused
            response = error_response(429, detail, "too_many_requests", {"Retry-After": str(wait), "Connection": "close"})
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limits.release(client)
