"""``/predict?heatmap=true`` answers with the six lung zones: contract, order and batching."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serving_fixtures import tiny_checkpoint, upload_kinds

from pneumolib.explain.zones import ZONE_NAMES
from pneumolib.serving.app import create_app
from pneumolib.serving.settings import ServiceSettings

XRAY = upload_kinds()["png_8bit"]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings())) as test_client:
        yield test_client


def predict(client, **params):
    return client.post("/predict", files={"file": XRAY}, params={k: str(v).lower() for k, v in params.items()})


def test_regions_come_with_the_heatmap_only(client):
    assert predict(client).json()["regions"] is None
    answer = predict(client, heatmap=True, allow_non_xray=True).json()
    regions = answer["regions"]
    assert sorted(z["zone"] for z in regions["zones"]) == sorted(ZONE_NAMES)
    contributions = [z["contribution"] for z in regions["zones"]]
    assert contributions == sorted(contributions, reverse=True)
    assert regions["mask_source"] in {"segmented", "prior", "mixed"} and regions["fill"]
    assert regions["summary"].endswith(".") and ("zone" in regions["summary"])
    shares = [z["heat_share"] for z in regions["zones"]]
    assert all(0 <= s <= 1 for s in shares) and sum(shares) <= 1 + 1e-6
    for zone in regions["zones"]:
        assert zone["source"] in {"segmented", "prior"} and len(zone["outline"]) >= 3
        assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in zone["outline"])


def _passes_of_one_heatmap_request(client) -> list[tuple[int, str]]:
    """(batch size, thread name) of every engine call one heatmap request makes."""
    import threading

    predictor = client.app.state.service.predictor
    passes = []
    run = predictor.engine.run

    def counting(batch, outputs):
        passes.append((len(batch), threading.current_thread().name))
        return run(batch, outputs)

    predictor.engine.run = counting
    try:
        assert predict(client, heatmap=True, allow_non_xray=True).status_code == 200
    finally:
        predictor.engine.run = run
    assert not client.app.state.service.slots.locked()  # every slot, lent ones too, is back
    return passes


def test_the_zones_are_scored_one_image_per_pass_after_the_prediction(client):
    passes = _passes_of_one_heatmap_request(client)
    assert [size for size, _ in passes] == [1] * 7  # the prediction, then the six hidden copies


def test_without_a_spare_slot_nothing_is_lent():
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings(max_concurrency=1))) as single:
        passes = _passes_of_one_heatmap_request(single)
        assert len(passes) == 7 and "lent-core" not in {thread for _, thread in passes}


def test_a_public_service_never_borrows_a_slot():
    from pneumolib.notebook.access import public_settings

    settings = public_settings(ServiceSettings()).settings
    assert settings.max_concurrency == 2 and not settings.heatmap_idle_slot
    with TestClient(create_app(tiny_checkpoint(), settings)) as public:
        passes = _passes_of_one_heatmap_request(public)
        assert len(passes) == 7 and "lent-core" not in {thread for _, thread in passes}


def test_the_idle_slot_switch_reads_0_or_1_only():
    from pneumolib.serving.settings import HEATMAP_IDLE_SLOT_ENV

    assert ServiceSettings.from_env({}).heatmap_idle_slot
    assert not ServiceSettings.from_env({HEATMAP_IDLE_SLOT_ENV: "0"}).heatmap_idle_slot
    with pytest.raises(ValueError, match="must be 0 .off. or 1 .on."):
        ServiceSettings.from_env({HEATMAP_IDLE_SLOT_ENV: "yes"})
