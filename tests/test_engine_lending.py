"""Scoring one image at a time on the caller's thread and a lent one: order, hand-back, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pneumolib.engine.lending import run_one_by_one


class Lender:
    """Lends its core for ``images`` images (None: for as long as asked), counting the returns."""

    def __init__(self, images: int | None = None) -> None:
        self.left, self.returned = images, 0

    def keep(self) -> bool:
        if self.left is None:
            return True
        self.left -= 1
        return self.left >= 0

    def give_back(self) -> None:
        self.returned += 1


def slow_square(threads: list[str]):
    def score(x: int) -> np.ndarray:
        threads.append(threading.current_thread().name)
        time.sleep(0.01)
        return np.array([x * x])

    return score


def test_without_a_lent_core_everything_runs_on_the_callers_thread_in_order():
    threads: list[str] = []
    out = run_one_by_one(slow_square(threads), [3, 1, 2])
    assert out.ravel().tolist() == [9, 1, 4]
    assert set(threads) == {threading.current_thread().name}


def test_a_lent_core_shares_the_work_and_is_given_back_once():
    threads: list[str] = []
    lender = Lender()
    out = run_one_by_one(slow_square(threads), list(range(8)), lender)
    assert out.ravel().tolist() == [i * i for i in range(8)]  # input order, whoever scored what
    assert "lent-core" in threads and threading.current_thread().name in threads
    assert len(threads) == 8 and lender.returned == 1


def test_a_core_wanted_back_stops_after_the_image_it_is_on():
    threads: list[str] = []
    lender = Lender(images=1)  # another request queues after its first image
    out = run_one_by_one(slow_square(threads), list(range(6)), lender)
    assert out.ravel().tolist() == [i * i for i in range(6)]
    assert threads.count("lent-core") <= 1 and lender.returned == 1


def test_one_image_returns_the_core_at_once_and_no_image_scores_nothing():
    lender = Lender()
    assert run_one_by_one(lambda x: np.array([x]), [5], lender).ravel().tolist() == [5]
    assert lender.returned == 1
    assert run_one_by_one(lambda x: np.array([x]), []).size == 0


def test_an_error_on_the_lent_thread_reaches_the_caller_and_the_core_still_goes_back():
    lender = Lender()

    def score(x: int) -> np.ndarray:
        time.sleep(0.01)
        if threading.current_thread().name == "lent-core":
            raise RuntimeError("broken pass")
        return np.array([x])

    with pytest.raises(RuntimeError, match="broken pass"):
        run_one_by_one(score, list(range(6)), lender)
    assert lender.returned == 1
