"""Run the service in a background thread of the current process: for notebooks, tests and demos.

A notebook cannot block on ``uvicorn.run`` (it would hang the cell) and a subprocess would not
share the notebook's imports or checkpoint path, so the server runs in a thread instead: a
:class:`uvicorn.Server` drives its own event loop there, the notebook keeps its own. uvicorn
installs no signal handlers outside the main thread, so stopping is cooperative: set
``should_exit``, and the server finishes the requests in flight, runs the app's shutdown (which
restores the thread limits it changed) and returns, and the thread is joined.

    with serve_in_background(checkpoint) as server:
        print(server.url)          # http://127.0.0.1:<free port>
        ...                        # call server.url + "/predict"
    # stopped here

Only the standard library is used for the health check, so this works wherever pneumolib does.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class ServerNotReady(RuntimeError):
    """The server did not come up, or came up without a model; the message says why."""


class BackgroundServer:
    """One uvicorn server for ``app`` in a daemon thread; :meth:`start`, then :meth:`stop`.

    ``port=0`` (the default) lets the operating system pick a free port; :attr:`port` and
    :attr:`url` give the real one once started. ``host`` stays on loopback unless you mean to
    expose the service to the network (a tunnel only needs loopback).
    """

    def __init__(self, app: Any, host: str = LOOPBACK, port: int = 0, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self.requested_port = int(port)
        self.log_level = log_level
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.port: int | None = None
        self.health: dict[str, Any] = {}
        self._crash: BaseException | None = None

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:8000`` (no trailing slash)."""
        if self.port is None:
            raise ServerNotReady("the server has not been started")
        host = LOOPBACK if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, timeout: float = 300.0, require_model: bool = True) -> BackgroundServer:
        """Start serving; return once ``GET /health`` answers (the model is loaded at startup).

        Raises :class:`ServerNotReady` (after stopping the thread) when the server exits early,
        does not come up within ``timeout`` seconds, or, with ``require_model``, answers /health
        with 503 because it has no model (the message is the service's own explanation).
        """
        if self.running:
            return self
        config = uvicorn.Config(self.app, host=self.host, port=self.requested_port, log_level=self.log_level,
                                log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self._crash = None
        self.thread = threading.Thread(target=self._run, name="pneumolib-server", daemon=True)
        self.thread.start()
        try:
            self._wait_started(timeout)
            self.health = self._wait_health(timeout, require_model)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to finish (requests in flight complete, then the app shuts down); join."""
        server, thread = self.server, self.thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():  # a request that would not end: drop open connections and wait again
            server.force_exit = True
            thread.join(timeout)
        if thread.is_alive():
            logger.warning("the background server thread did not stop within %.0f s", 2 * timeout)
        else:
            self.thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running and self.port else "stopped"
        return f"<BackgroundServer {state}>"

    def _run(self) -> None:
        assert self.server is not None
        try:
            self.server.run()
        except SystemExit as error:  # uvicorn exits this way when startup fails (port taken, app error)
            self._crash = error
        except BaseException as error:  # noqa: BLE001 - reported to the caller by start()
            self._crash = error
            logger.exception("the background server crashed")

    def _wait_started(self, timeout: float) -> None:
        """Until uvicorn listens (after the app's startup, i.e. after the model loaded)."""
        assert self.server is not None and self.thread is not None
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise ServerNotReady(self._early_exit_reason())
            if time.monotonic() > deadline:
                raise ServerNotReady(f"the server did not start within {timeout:.0f} s")
            time.sleep(0.05)
        sockets = self.server.servers[0].sockets if getattr(self.server, "servers", None) else []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.requested_port

    def _early_exit_reason(self) -> str:
        where = f"{self.host}:{self.requested_port}" if self.requested_port else self.host
        if isinstance(self._crash, SystemExit):
            return (f"the server stopped during startup (exit code {self._crash.code}); the log above says "
                    f"why. Is port {where} already in use, for example by a server from an earlier run?")
        if self._crash is not None:
            return f"the server crashed during startup: {self._crash}"
        return "the server stopped during startup; the log above says why"

    def _wait_health(self, timeout: float, require_model: bool) -> dict[str, Any]:
        return wait_for_health(self.url, timeout, require_model)


def wait_for_health(url: str, timeout: float, require_model: bool = True,
                    exited: Callable[[], str | None] | None = None) -> dict[str, Any]:
    """Poll ``GET {url}/health`` until it answers 200 (the model is loaded); return its body.

    Raises :class:`ServerNotReady` with the service's own reason on a 503 other than "still
    loading" (with ``require_model``; without it that body is returned), with ``exited()``'s reason
    when it says the server process is gone, or after ``timeout`` seconds. Used by the notebooks'
    background server and by the scripts that measure a server in a subprocess.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if exited is not None and (reason := exited()):
            raise ServerNotReady(reason)
        status, body = _get_json(f"{url}/health")
        if status == 200:
            return body
        if status == 503:
            detail = str(body.get("detail", body))
            if "still loading" not in detail:
                if require_model:
                    raise ServerNotReady(detail)
                return body
            last = detail
        elif status:
            last = f"HTTP {status}"
        time.sleep(0.2)
    raise ServerNotReady(f"/health did not answer within {timeout:.0f} s ({last})")


def _get_json(url: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a GET; (0, {}) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL we built
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (urllib.error.URLError, OSError, ValueError):
        return 0, {}


def serve_in_background(checkpoint: str | os.PathLike | None = None, *, host: str = LOOPBACK, port: int = 0,
                        settings: Any = None, timeout: float = 300.0, require_model: bool = True,
                        log_level: str = "warning") -> BackgroundServer:
    """Create the app for ``checkpoint`` (default: :func:`~pneumolib.checkpoint.find_checkpoint`)
    and serve it in a background thread; returns the started :class:`BackgroundServer`."""
    from pneumolib.serving.app import create_app  # imports torch and FastAPI: only when a server is wanted

    server = BackgroundServer(create_app(checkpoint, settings), host=host, port=port, log_level=log_level)
    return server.start(timeout=timeout, require_model=require_model)
