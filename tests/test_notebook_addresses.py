"""The address notebook 06 prints: never loopback in Colab when Colab can proxy the port."""

from __future__ import annotations

import sys
import types

import pytest

from pneumolib.notebook.addresses import colab_proxy_url, service_address

LOCAL = "http://127.0.0.1:8123"


@pytest.fixture
def colab(monkeypatch):
    """A stand-in for Colab's ``google.colab.output``; ``calls`` records the JavaScript asked for."""
    colab = types.ModuleType("google.colab")
    output = types.ModuleType("google.colab.output")
    output.calls = []

    def eval_js(script):
        output.calls.append(script)
        if output.broken:
            raise RuntimeError("no front end")
        return "https://8123-m-s-abc.prod.colab.dev/"

    output.eval_js, output.broken = eval_js, False
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    return output


def test_outside_colab_loopback_is_the_address(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    address = service_address(LOCAL, 8123)
    assert colab_proxy_url(8123) is None
    assert address.page == f"{LOCAL}/" and address.docs == f"{LOCAL}/docs" and "this machine" in address.reach


def test_in_colab_the_proxy_address_is_printed_not_loopback(colab):
    address = service_address(LOCAL, 8123)
    assert colab.calls == ["google.colab.kernel.proxyPort(8123)"]
    assert address.page == "https://8123-m-s-abc.prod.colab.dev/"
    assert address.docs == "https://8123-m-s-abc.prod.colab.dev/docs"
    assert "127.0.0.1" not in str(address)


def test_the_tunnel_wins_and_says_anyone_can_use_it(colab):
    address = service_address(LOCAL, 8123, public_url="https://abc.ngrok-free.app")
    assert address.page == "https://abc.ngrok-free.app/" and "anyone" in address.reach
    assert colab.calls == []


def test_without_a_proxy_in_colab_loopback_is_labelled_for_what_it_is(colab):
    colab.broken = True
    address = service_address(LOCAL, 8123)
    assert address.base_url == LOCAL and not address.browsable
    assert "127.0.0.1" not in str(address) and "No address your browser can open" in str(address)
