"""The service in public: security headers, no caching, what the log keeps, the key, per-client limits."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from serving_fixtures import tiny_checkpoint, upload_kinds

from pneumolib.serving.app import create_app
from pneumolib.serving.fairness import ClientLimits, client_address
from pneumolib.serving.security import PAGE_POLICY
from pneumolib.serving.settings import ServiceSettings

XRAY = upload_kinds()["png_8bit"]
KEY = "k" * 12 + "-public-key-for-tests"


@pytest.fixture(scope="module")
def open_client():
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings())) as client:
        yield client


@pytest.fixture(scope="module")
def keyed_client():
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings(api_key=KEY))) as client:
        yield client


def predict(client: TestClient, headers: dict[str, str] | None = None, upload=XRAY):
    return client.post("/predict", files={"file": upload}, headers=headers or {})


# ---- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", "/"), ("GET", "/health"), ("GET", "/model"), ("POST", "/predict"),
                                         ("GET", "/nowhere"), ("GET", "/static/page.js")])
def test_every_response_carries_the_security_headers(open_client, method, path):
    response = open_client.request(method, path, files={"file": XRAY} if method == "POST" else None)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert "frame-ancestors 'none'" in PAGE_POLICY and "script-src 'self'" in PAGE_POLICY
    expected_cache = "no-cache" if path.startswith("/static/") else "no-store"
    assert response.headers["cache-control"] == expected_cache


def test_the_page_has_no_inline_script_or_style(open_client):
    page = open_client.get("/").text
    assert "<script>" not in page and "<style>" not in page and " style=" not in page and " on" + "click=" not in page
    assert '<script src="static/page.js"' in page and 'href="static/page.css"' in page  # relative: works behind a proxy path
    for name, kind in (("page.js", "javascript"), ("page.css", "text/css")):
        response = open_client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]


def test_the_docs_page_gets_its_own_policy_and_still_cannot_be_framed(open_client):
    policy = open_client.get("/docs").headers["content-security-policy"]
    assert "cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy


# ---- the log ------------------------------------------------------------------------------


def test_the_log_keeps_size_type_status_and_time_but_never_the_name(open_client, caplog):
    name = "Jane_Doe_1999-04-01_MRN123456.png"
    with caplog.at_level(logging.DEBUG):
        ok = open_client.post("/predict", files={"file": (name, XRAY[1], "image/png")})
        bad = open_client.post("/predict", files={"file": (name, b"not an image", "text/plain")})
    assert ok.status_code == 200 and bad.status_code == 415
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Jane" not in text and "MRN123456" not in text and "not an image" not in text
    lines = [r.getMessage() for r in caplog.records if r.name == "pneumolib.requests"]
    assert any(f"predict: {len(XRAY[1])} bytes, image/png, status 200" in line for line in lines), lines
    assert any("text/plain, status 415" in line for line in lines), lines


# ---- the key ------------------------------------------------------------------------------


def test_without_a_key_everything_is_open(open_client):
    assert predict(open_client).status_code == 200


@pytest.mark.parametrize("headers,code", [({}, "key_required"),
                                          ({"Authorization": "Bearer wrong-key-123456789"}, "wrong_key"),
                                          ({"X-API-Key": KEY[:-1]}, "wrong_key"),
                                          ({"Authorization": f"Basic {KEY}"}, "key_required")])
def test_a_missing_or_wrong_key_is_a_clear_401(keyed_client, headers, code):
    for response in (predict(keyed_client, headers), keyed_client.get("/model", headers=headers)):
        assert response.status_code == 401
        assert response.json()["code"] == code and "key" in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-security-policy"] == PAGE_POLICY  # refusals carry the headers too


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}])
def test_the_right_key_in_either_header_gets_in(keyed_client, headers):
    assert predict(keyed_client, headers).status_code == 200
    assert keyed_client.get("/model", headers=headers).status_code == 200


def test_the_page_health_and_docs_stay_open_with_a_key(keyed_client):
    for path in ("/", "/health", "/docs", "/static/page.js"):
        assert keyed_client.get(path).status_code == 200, path


def test_a_short_key_is_refused_at_startup():
    with pytest.raises(ValueError, match="at least 16"):
        ServiceSettings(api_key="secret")
    with pytest.raises(ValueError, match="PNEUMO_CLIENT_MAX_IN_FLIGHT"):
        ServiceSettings.from_env({"PNEUMO_CLIENT_MAX_IN_FLIGHT": "-1"})
    assert ServiceSettings.from_env({"PNEUMO_API_KEY": KEY, "PNEUMO_CLIENT_RATE_PER_MINUTE": "30"}).client_rate_per_minute == 30


# ---- per-client limits --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refuses_after_the_burst_and_refills():
    clock = Clock()
    limits = ClientLimits(rate_per_minute=60, burst=3, max_in_flight=0, clock=clock)
    for _ in range(3):
        assert limits.acquire("a") is None
        limits.release("a")
    refused = limits.acquire("a")
    assert refused is not None and refused[1] == 1 and "at most 60 a minute" in refused[0]
    assert limits.acquire("b") is None  # another client is not affected
    clock.now += 1.0
    assert limits.acquire("a") is None


def test_in_flight_limit_counts_until_release():
    limits = ClientLimits(rate_per_minute=0, burst=1, max_in_flight=2)
    assert limits.acquire("a") is None and limits.acquire("a") is None
    refused = limits.acquire("a")
    assert refused is not None and "2 requests waiting or running" in refused[0]
    limits.release("a")
    assert limits.acquire("a") is None


@pytest.mark.parametrize("peer,forwarded,expected", [
    ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
    ("127.0.0.1", "10.0.0.1, 203.0.113.9", "203.0.113.9"),  # the entry the proxy added, not the client's claim
    ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # not from a local proxy: the header is not trusted
    ("::1", "", "::1"),
])
def test_the_client_is_the_address_a_local_proxy_saw(peer, forwarded, expected):
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    assert client_address({"type": "http", "client": (peer, 1234), "headers": headers}) == expected


def test_one_busy_client_gets_429_with_retry_after_and_the_others_get_through():
    settings = ServiceSettings(client_max_in_flight=1, client_rate_per_minute=60, client_burst=2)
    with TestClient(create_app(tiny_checkpoint(), settings)) as client:
        predictor = client.app.state.service.predictor
        entered, release, original = threading.Event(), threading.Event(), predictor.predict

        def slow(*args, **kwargs):
            entered.set()
            release.wait(10)
            return original(*args, **kwargs)

        predictor.predict = slow
        noisy = {"X-Forwarded-For": "203.0.113.66"}
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(predict, client, noisy)
            assert entered.wait(30)  # the first request is being handled
            second = predict(client, noisy)
            release.set()
            assert first.result().status_code == 200
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert second.json()["code"] == "too_many_requests"
        predictor.predict = original
        assert predict(client, noisy).status_code == 200  # the burst's second request (the refused one took none)
        third = predict(client, noisy)  # the burst of 2 is spent: the rate limit answers
        assert third.status_code == 429 and "a minute" in third.json()["detail"]
        assert int(third.headers["retry-after"]) >= 1
        assert predict(client, {"X-Forwarded-For": "203.0.113.7"}).status_code == 200


def test_importing_the_service_loads_no_plotting_library():
    import subprocess
    import sys

    probe = ("import sys, pneumolib.serving.app; "
             "print(sorted(m for m in ('matplotlib', 'seaborn', 'pytorch_grad_cam') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
