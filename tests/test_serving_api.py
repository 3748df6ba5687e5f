"""Tests for the HTTP service: every input kind, every error, the gate, schema, health, concurrency."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serving_fixtures import (
    HEATMAP_REPORT,
    NOT_XRAY_DIR,
    OPERATING_POINTS,
    TEST_METRICS,
    encode,
    tiny_checkpoint,
    training_checkpoint,
    upload_kinds,
    xray_paths,
    xray_pixels,
)

from pneumolib.serving.app import create_app
from pneumolib.serving.predictor import Predictor, shrink_to_fit
from pneumolib.serving.settings import ServiceSettings

KINDS = upload_kinds()
XRAY = KINDS["png_8bit"]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings())) as test_client:
        yield test_client


def post(client: TestClient, upload: tuple[str, bytes, str] | None = XRAY, **params: object):
    files = {"file": upload} if upload is not None else None
    return client.post("/predict", files=files, params={k: str(v).lower() for k, v in params.items()})


def assert_error(response, status: int, *words: str) -> str:
    """The response is a JSON error with a plain-string detail (no internals) mentioning ``words``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in body["detail"] and 'File "' not in body["detail"]
    for word in words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    return body["detail"]


# ---------------------------------------------------------------------------------------------
# Health, model description, pages
# ---------------------------------------------------------------------------------------------


def test_health_reports_the_loaded_model(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["model"]["sha256"] == hashlib.sha256(tiny_checkpoint().read_bytes()).hexdigest()
    assert body["checkpoint_source"] == "given explicitly"
    engine = "onnx" if importlib.util.find_spec("onnxruntime") else "torch"
    assert body["inference"]["engine"] == engine  # ONNX Runtime answers on a CPU where installed


def test_a_server_answers_health_while_the_model_loads(monkeypatch) -> None:
    """The ``serve`` command's app: /health answers "still loading" at once, then 200 once loaded."""
    release, real_load = threading.Event(), Predictor.load

    def slow_load(*args, **kwargs):
        release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Predictor, "load", slow_load)
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings(), load_in_background=True)) as client:
        waiting = client.get("/health")
        assert waiting.status_code == 503 and "still loading" in waiting.json()["detail"]
        assert waiting.headers["Retry-After"] == "30"
        assert client.post("/predict", files={"file": XRAY}).status_code == 503
        release.set()
        for _ in range(300):
            if (ready := client.get("/health")).status_code == 200:
                break
            time.sleep(0.1)
        assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_model_description(client: TestClient) -> None:
    card = client.get("/model").json()
    assert card["architecture"] == "efficientnet_lite0"
    assert card["version"] and len(card["sha256"]) == 64
    assert card["operating_points"]["screening"]["threshold"] == OPERATING_POINTS["screening"]["threshold"]
    assert set(card["operating_points"]) >= {"screening", "balanced"}
    assert card["val_metrics"]["val_auc"] == 0.95
    assert card["val_metrics"]["undefined"] is None  # NaN cannot be JSON
    assert card["test_metrics"] == TEST_METRICS and card["test_report"] == "tiny.report.json"
    measures = card["heatmap_measures"]  # what the page says beside a map: how often its side matched occlusion
    assert measures["split"] == "test" and measures["laterality_agreement"] == HEATMAP_REPORT["laterality_agreement"]
    assert measures["films_called_pneumonia"] == 12 and "deletion_curve" not in measures
    assert card["ood_gate"]["distance_threshold"] > 0
    assert card["input"]["image_size"] == 64 and "not a diagnostic tool" in card["intended_use"].lower()


def test_pages_and_docs(client: TestClient) -> None:
    index = client.get("/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "not a diagnostic tool" in index.text.lower()
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    names = {p["name"] for p in spec["paths"]["/predict"]["post"]["parameters"]}
    assert names == {"heatmap", "operating_point", "allow_non_xray"}


# ---------------------------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------------------------


def test_response_schema(client: TestClient) -> None:
    response = post(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"prediction", "confidence", "probability", "threshold", "operating_point",
                         "heatmap", "model", "warnings", "disclaimer", "gate", "input"}
    assert body["prediction"] in ("Pneumonia", "Normal")
    assert 0 <= body["probability"] <= 1 and 0 <= body["confidence"] <= 1
    expected = body["probability"] if body["prediction"] == "Pneumonia" else 1 - body["probability"]
    assert body["confidence"] == pytest.approx(expected)
    assert (body["prediction"] == "Pneumonia") == (body["probability"] >= body["threshold"])
    assert body["operating_point"] == "screening"
    assert body["threshold"] == OPERATING_POINTS["screening"]["threshold"]
    assert body["heatmap"] is None
    assert set(body["model"]) >= {"name", "version", "sha256"}
    assert "not a diagnostic tool" in body["warnings"][0]
    assert "not a medical device" in body["disclaimer"]
    assert body["gate"]["passed"] and not body["gate"]["overridden"]
    assert body["input"] == {"format": "png", "width": xray_pixels().shape[1],
                             "height": xray_pixels().shape[0], "bit_depth": 8}


def test_balanced_operating_point_uses_its_threshold(client: TestClient) -> None:
    screening = post(client).json()
    balanced = post(client, operating_point="balanced").json()
    assert balanced["operating_point"] == "balanced"
    assert balanced["threshold"] == OPERATING_POINTS["balanced"]["threshold"]
    assert balanced["probability"] == pytest.approx(screening["probability"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_input_kind(client: TestClient, kind: str) -> None:
    body = post(client, KINDS[kind]).json()
    assert body.get("prediction") in ("Pneumonia", "Normal"), body
    assert body["input"]["format"] == kind.split("_")[0]
    assert body["gate"]["passed"], body["gate"]
    reference = post(client, KINDS["png_8bit"]).json()["probability"]
    if kind in ("jpeg_gray", "png_8bit", "png_palette"):
        assert body["probability"] == pytest.approx(reference, abs=1e-6)  # the very same pixels
    elif kind in ("png_16bit", "dicom_monochrome2", "dicom_monochrome1"):
        assert body["probability"] == pytest.approx(reference, abs=0.05)  # rescaled, nearly the same
    if kind == "dicom_monochrome1":
        assert any("MONOCHROME1" in warning for warning in body["warnings"])


def test_decode_warnings_reach_the_client(client: TestClient) -> None:
    _, data, _ = KINDS["png_8bit"]
    body = post(client, ("xray.jpg", data, "image/jpeg")).json()
    assert any("the content was trusted" in warning for warning in body["warnings"])
    assert not any("enlarged" in warning for warning in body["warnings"])  # 128 px > 64 px input


def test_heatmap_is_a_png_overlay_on_the_original_image(client: TestClient) -> None:
    body = post(client, KINDS["jpeg_rgb"], heatmap=True).json()
    overlay = Image.open(io.BytesIO(base64.b64decode(body["heatmap"])))
    assert overlay.format == "PNG" and overlay.mode == "RGB"
    assert overlay.size == (body["input"]["width"], body["input"]["height"])
    assert not any("heatmap could not" in warning for warning in body["warnings"])


def test_heatmap_overlay_is_shrunk_for_large_images() -> None:
    big = np.zeros((3000, 1500, 3), np.uint8)
    assert shrink_to_fit(big, 1024).shape == (1024, 512, 3)
    assert shrink_to_fit(big, 0) is big and shrink_to_fit(big, 4000) is big


# ---------------------------------------------------------------------------------------------
# The not-a-chest-X-ray gate
# ---------------------------------------------------------------------------------------------

CLEARLY_NOT_XRAYS = ["blank_white.png", "blank_black.png", "noise_uniform_gray.png", "noise_gaussian_gray.png",
                     "doc_letter.png", "doc_scanned_gray.jpg", "ui_form.png", "photo_china.jpg",
                     "photo_flower_gray.jpg"]


@pytest.mark.parametrize("name", CLEARLY_NOT_XRAYS)
def test_gate_refuses_blank_noise_documents_and_photos(client: TestClient, name: str) -> None:
    data = (NOT_XRAY_DIR / name).read_bytes()
    detail = assert_error(post(client, (name, data, "application/octet-stream")), 422,
                          "chest x-ray", "allow_non_xray=true")
    assert "no prediction" in detail


def test_gate_accepts_every_fixture_xray(client: TestClient) -> None:
    for path in xray_paths():
        response = post(client, (path.name, path.read_bytes(), "image/jpeg"))
        assert response.status_code == 200, (path.name, response.text)


def test_override_flag_forces_a_marked_prediction(client: TestClient) -> None:
    data = (NOT_XRAY_DIR / "photo_china.jpg").read_bytes()
    body = post(client, ("photo.jpg", data, "image/jpeg"), allow_non_xray=True).json()
    assert body["prediction"] in ("Pneumonia", "Normal")
    assert body["gate"] == {**body["gate"], "passed": False, "overridden": True}
    assert body["gate"]["distance"] > body["gate"]["threshold"]
    assert any("unreliable" in warning for warning in body["warnings"])


# ---------------------------------------------------------------------------------------------
# Client errors
# ---------------------------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("upload", "status", "words"), [
    (("x.png", b"", "image/png"), 400, ("empty",)),
    (("x.png", bytes(range(256)) * 8, "image/png"), 400, ("png, jpeg or dicom",)),
    (("x.png", XRAY[1][: len(XRAY[1]) // 2], "image/png"), 400, ("corrupted",)),
    (("x.gif", encode(Image.new("L", (8, 8)), "GIF"), "image/gif"), 415, ("gif",)),
    (("x.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"), 415, ("pdf",)),
    (("x.txt", b"patient: someone\nfindings: none\n", "text/plain"), 415, ("text",)),
    (("x.png", png_claiming(100_000, 100_000), "image/png"), 413, ("megapixels",)),
], ids=["empty", "garbage", "truncated", "gif", "pdf", "text", "pixel-limit"])
def test_client_errors(client: TestClient, upload, status: int, words: tuple[str, ...]) -> None:
    assert_error(post(client, upload), status, *words)


def test_upload_over_the_byte_limit_is_413(client: TestClient) -> None:
    limit = ServiceSettings().max_upload_bytes
    # Content-Length far over the limit: refused before the body is read.
    assert_error(post(client, ("big.png", b"\x89PNG" + bytes(limit + 200_000), "image/png")), 413, "limit")
    # Just over the file limit but within the multipart allowance: refused while reading the file.
    assert_error(post(client, ("big.png", b"\x89PNG" + bytes(limit), "image/png")), 413, "limit")


def test_chunked_body_without_content_length_is_cut_off() -> None:
    settings = ServiceSettings(max_upload_bytes=50_000)
    with TestClient(create_app(tiny_checkpoint(), settings)) as small:
        boundary = "pneumolibboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode()

        def body():
            yield head
            for _ in range(40):
                yield bytes(10_000)
            yield f"\r\n--{boundary}--\r\n".encode()

        response = small.post("/predict", content=body(),
                              headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert_error(response, 413, "limit")
        assert small.get("/health").status_code == 200


@pytest.mark.parametrize(("params", "files", "words"), [
    ({}, None, ("no image", "'file'")),
    ({"operating_point": "aggressive"}, XRAY, ("operating_point", "screening", "balanced")),
    ({"heatmap": "maybe"}, XRAY, ("heatmap", "true or false")),
    ({"allow_non_xray": "perhaps"}, XRAY, ("allow_non_xray", "true or false")),
], ids=["missing-file", "bad-operating-point", "bad-heatmap", "bad-override"])
def test_validation_errors_are_plain_sentences(client: TestClient, params, files, words) -> None:
    response = client.post("/predict", params=params, files={"file": files} if files else None)
    assert_error(response, 422, *words)


def test_file_sent_as_text_field_is_422(client: TestClient) -> None:
    assert_error(client.post("/predict", data={"file": "not a file"}), 422, "file")


def test_not_found_and_wrong_method_are_json(client: TestClient) -> None:
    assert_error(client.get("/nowhere"), 404, "/predict")
    assert_error(client.get("/predict"), 405, "/predict")


def test_unexpected_failure_is_a_bare_500_and_the_server_carries_on(client: TestClient, monkeypatch) -> None:
    predictor = client.app.state.service.predictor

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals at /srv/model.py line 12")

    monkeypatch.setattr(predictor, "predict", broken)
    response = post(client)
    assert_error(response, 500, "try again")
    assert "secret" not in response.text and "RuntimeError" not in response.text
    monkeypatch.undo()
    assert post(client).status_code == 200 and client.get("/health").status_code == 200


# ---------------------------------------------------------------------------------------------
# Startup without a usable model
# ---------------------------------------------------------------------------------------------


def _assert_unavailable(app, *words: str) -> None:
    with TestClient(app) as test_client:
        health = test_client.get("/health")
        assert health.json()["status"] == "unavailable"
        assert_error(health, 503, *words)
        assert_error(post(test_client), 503, *words)
        assert_error(test_client.get("/model"), 503, *words)
        assert test_client.get("/").status_code == 200


def test_missing_checkpoint_from_env_is_a_503(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PNEUMO_CHECKPOINT", str(tmp_path / "nowhere.pt"))
    _assert_unavailable(create_app(settings=ServiceSettings()), "nowhere.pt", "PNEUMO_CHECKPOINT")


def test_missing_bundled_weights_is_a_503(tmp_path: Path, monkeypatch) -> None:
    from pneumolib import checkpoint

    monkeypatch.delenv("PNEUMO_CHECKPOINT", raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path))
    monkeypatch.setattr(checkpoint, "BUNDLED_CHECKPOINT", tmp_path / "pneumolib_lite0.pt")
    _assert_unavailable(create_app(settings=ServiceSettings()), "bundled", "PNEUMO_CHECKPOINT")


def test_unfinalized_checkpoint_is_a_503(tmp_path: Path) -> None:
    _assert_unavailable(create_app(training_checkpoint(tmp_path), ServiceSettings()), "finalize", "temperature")


def test_corrupt_checkpoint_is_a_503(tmp_path: Path) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    _assert_unavailable(create_app(path, ServiceSettings()), "could not be loaded")


def test_settings_from_env_reject_bad_values() -> None:
    assert ServiceSettings.from_env({"PNEUMO_MAX_CONCURRENCY": "4"}).max_concurrency == 4
    assert ServiceSettings.from_env({}).max_upload_bytes == 20 * 1024 * 1024
    with pytest.raises(ValueError, match="PNEUMO_MAX_CONCURRENCY"):
        ServiceSettings.from_env({"PNEUMO_MAX_CONCURRENCY": "0"})
    with pytest.raises(ValueError, match="PNEUMO_MAX_UPLOAD_BYTES"):
        ServiceSettings.from_env({"PNEUMO_MAX_UPLOAD_BYTES": "lots"})


# ---------------------------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------------------------


def test_parallel_requests_all_succeed_within_the_concurrency_bound(client: TestClient, monkeypatch) -> None:
    predictor: Predictor = client.app.state.service.predictor
    original = predictor.predict
    active, peak, lock = 0, 0, threading.Lock()

    def counting(*args: object, **kwargs: object):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.05)  # widen the window in which requests overlap
            return original(*args, **kwargs)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(predictor, "predict", counting)
    uploads = [KINDS[kind] for kind in sorted(KINDS)][:8]

    def from_own_client(numbered: tuple[int, tuple[str, bytes, str]]):  # 8 clients, each within its own limit
        number, upload = numbered
        return client.post("/predict", files={"file": upload}, params={"heatmap": True},
                           headers={"X-Forwarded-For": f"198.51.100.{number}"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(from_own_client, enumerate(uploads)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses if r.status_code != 200]
    assert all(r.json()["heatmap"] for r in responses)
    assert 1 <= peak <= ServiceSettings().max_concurrency
