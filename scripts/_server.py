"""Shared by bench_api.py and load_test.py: a real uvicorn server in a subprocess, and a sample image.

Measuring through a real server on loopback (not an in-process test client) includes what a
client actually waits for: HTTP parsing, multipart spooling, JSON encoding.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from pneumolib.notebook.background import ServerNotReady, wait_for_health

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(checkpoint: str | None, extra_env: dict[str, str] | None = None,
                   timeout: float = 180.0) -> Iterator[tuple[str, int]]:
    """Start ``uvicorn pneumolib.serving.asgi:app`` on loopback; yield (base URL, server pid) once healthy."""
    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    if checkpoint:
        env["PNEUMO_CHECKPOINT"] = str(Path(checkpoint).resolve())
    command = [sys.executable, "-m", "uvicorn", "pneumolib.serving.asgi:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(url: str, process: subprocess.Popen | None, timeout: float) -> None:
    """Poll /health until 200; stop with the server's own reason on a 503 or an early exit."""
    def exited() -> str | None:
        if process is not None and process.poll() is not None:
            return f"the server exited with code {process.returncode} before it was ready"
        return None

    try:
        wait_for_health(url, timeout, require_model=True, exited=exited)
    except ServerNotReady as error:
        raise SystemExit(str(error)) from None


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc, else psutil when installed)."""
    status = Path(f"/proc/{pid}/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    try:
        import psutil
    except ImportError:
        return float("nan")
    return psutil.Process(pid).memory_info().rss / (1024 * 1024)


def default_image() -> Path:
    """The sample film shipped with pneumolib (a test-split X-ray at its released size)."""
    from pneumolib.samples import SAMPLE_FILM

    return SAMPLE_FILM


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
