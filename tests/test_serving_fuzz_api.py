"""Fuzzing /predict: whatever bytes arrive, the answer is a 200 or a JSON 4xx, never a 5xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_fixtures import tiny_checkpoint, upload_kinds

from pneumolib.serving.app import create_app
from pneumolib.serving.settings import ServiceSettings

SEEDS = [data for _, data, _ in upload_kinds().values()]
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def client():
    # A small pixel limit keeps mutated headers that claim huge images cheap to refuse.
    app = create_app(tiny_checkpoint(), ServiceSettings(max_pixels=2_000_000))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid upload with a few bytes set, flipped, inserted, deleted or cut off."""
    buf = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 5))):
        if not buf:
            break
        limit = min(len(buf), 400) if draw(st.booleans()) else len(buf)  # headers live up front
        pos = draw(st.integers(0, limit - 1))
        op = draw(st.sampled_from(["set", "flip", "insert", "delete", "truncate"]))
        if op == "set":
            buf[pos] = draw(st.integers(0, 255))
        elif op == "flip":
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        else:
            del buf[pos:]
    return bytes(buf)


def assert_handled(client: TestClient, data: bytes, name: str, params: dict[str, str]) -> None:
    response = client.post("/predict", files={"file": (name, data, "application/octet-stream")}, params=params)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert response.status_code in (400, 413, 415, 422), response.text
        assert isinstance(response.json()["detail"], str)


PARAMS = st.fixed_dictionaries({}, optional={
    "heatmap": st.sampled_from(["true", "false"]),
    "operating_point": st.sampled_from(["screening", "balanced"]),
    "allow_non_xray": st.sampled_from(["true", "false"]),
})


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom complains about garbage
@FUZZ
@given(data=st.binary(max_size=4096), name=st.sampled_from(["x.png", "x.jpg", "x.dcm", "x", ""]))
def test_fuzz_random_bytes(client: TestClient, data: bytes, name: str) -> None:
    assert_handled(client, data, name or "upload", {})


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(FUZZ, max_examples=80)
@given(data=mutated(), params=PARAMS)
def test_fuzz_mutated_uploads(client: TestClient, data: bytes, params: dict[str, str]) -> None:
    assert_handled(client, data, "upload", params)
