"""A quick, bounded answer to "can this machine reach that host?" before a download is tried.

On a machine without internet a download can hang for a minute or more in name resolution; a
notebook should say "offline" in seconds instead. ``PNEUMO_OFFLINE=1`` skips every download.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

from pneumolib import environment

OFFLINE_ENV = environment.OFFLINE


def offline_requested() -> bool:
    return (environment.read(OFFLINE_ENV) or "").lower() in {"1", "true", "yes"}


def can_reach(url: str, timeout: float = 5.0) -> bool:
    """True when a TCP connection to the URL's host opens within ``timeout`` seconds."""
    if offline_requested():
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])
