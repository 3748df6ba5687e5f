import time

from pneumolib.reachability import OFFLINE_ENV, can_reach


def test_offline_flag_short_circuits(monkeypatch):
    monkeypatch.setenv(OFFLINE_ENV, "1")
    started = time.perf_counter()
    assert can_reach("https://www.kaggle.com") is False
    assert time.perf_counter() - started < 0.1


def test_unreachable_port_is_false_and_bounded(monkeypatch):
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    started = time.perf_counter()
    assert can_reach("http://127.0.0.1:9", timeout=2.0) is False  # discard port: nothing listens
    assert time.perf_counter() - started < 3.0
