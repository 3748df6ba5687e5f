"""The service in a background thread: start, answer on loopback, stop cleanly, fail clearly."""

from __future__ import annotations

import socket

import httpx
import pytest
import torch
from serving_fixtures import tiny_checkpoint, xray_paths

from pneumolib.notebook.background import BackgroundServer, ServerNotReady, serve_in_background
from pneumolib.serving.app import create_app
from pneumolib.serving.settings import ServiceSettings


def test_start_predict_and_stop() -> None:
    threads_before = torch.get_num_threads()
    server = serve_in_background(tiny_checkpoint(), settings=ServiceSettings(torch_threads=1), timeout=120)
    try:
        assert server.running and server.url.startswith("http://127.0.0.1:") and server.port > 0
        assert server.health["status"] == "ok" and server.health["model"]["name"] == "tiny"
        assert httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok"
        image = xray_paths()[0]
        answer = httpx.post(f"{server.url}/predict", files={"file": (image.name, image.read_bytes())}, timeout=60)
        assert answer.status_code == 200 and answer.json()["prediction"] in ("Pneumonia", "Normal")
        assert server.start() is server  # already running: nothing new is started
    finally:
        server.stop()
    assert not server.running and server.thread is None
    with pytest.raises(httpx.ConnectError):  # the port is closed
        httpx.get(f"{server.url}/health", timeout=5)
    assert torch.get_num_threads() == threads_before  # the app's shutdown ran and restored it
    server.stop()  # twice: no error


def test_context_manager_stops_the_server() -> None:
    with BackgroundServer(create_app(tiny_checkpoint(), ServiceSettings(torch_threads=1))) as server:
        url = server.url
        assert httpx.get(f"{url}/model", timeout=10).json()["name"] == "tiny"
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=5)


def test_missing_checkpoint_is_a_clear_error(tmp_path) -> None:
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(ServerNotReady, match="no checkpoint file") as caught:
        serve_in_background(missing, timeout=60)
    assert str(missing) in str(caught.value)


def test_without_require_model_the_server_explains_on_health(tmp_path) -> None:
    server = serve_in_background(tmp_path / "nowhere.pt", timeout=60, require_model=False)
    try:
        assert server.health["status"] == "unavailable"
        response = httpx.get(f"{server.url}/health", timeout=10)
        assert response.status_code == 503 and "no checkpoint file" in response.json()["detail"]
    finally:
        server.stop()
    assert not server.running


def test_port_in_use_is_explained(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = BackgroundServer(create_app(tmp_path / "nowhere.pt"), port=port)
        with pytest.raises(ServerNotReady, match="already in use"):
            server.start(timeout=60, require_model=False)
        assert not server.running


def test_url_before_start_is_an_error() -> None:
    server = BackgroundServer(create_app(tiny_checkpoint()))
    with pytest.raises(ServerNotReady, match="not been started"):
        server.url
    server.stop()  # never started: nothing to do
    assert "stopped" in repr(server)
