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


def _batches_of_one_heatmap_request(client) -> list[int]:
    predictor = client.app.state.service.predictor
    batches = []
    run = predictor.engine.run

    def counting(batch, outputs):
        batches.append(len(batch))
        return run(batch, outputs)

    predictor.engine.run = counting
    try:
        assert predict(client, heatmap=True, allow_non_xray=True).status_code == 200
    finally:
        predictor.engine.run = run
    return batches


def test_an_idle_slot_splits_the_zones_batch_over_two_cores(client):
    batches = _batches_of_one_heatmap_request(client)
    assert batches[0] == 1 and sorted(batches[1:]) == [3, 3]  # the prediction, then two halves side by side


def test_with_no_idle_slot_the_zones_are_measured_in_one_extra_batch():
    with TestClient(create_app(tiny_checkpoint(), ServiceSettings(max_concurrency=1))) as single:
        assert _batches_of_one_heatmap_request(single) == [1, 6]  # the prediction's pass, then the six together


def test_a_public_service_never_borrows_a_slot():
    from pneumolib.notebook.access import public_settings

    settings = public_settings(ServiceSettings()).settings
    assert settings.max_concurrency == 2 and not settings.heatmap_idle_slot
    with TestClient(create_app(tiny_checkpoint(), settings)) as public:
        assert _batches_of_one_heatmap_request(public) == [1, 6]


def test_the_idle_slot_switch_reads_0_or_1_only():
    from pneumolib.serving.settings import HEATMAP_IDLE_SLOT_ENV

    assert ServiceSettings.from_env({}).heatmap_idle_slot
    assert not ServiceSettings.from_env({HEATMAP_IDLE_SLOT_ENV: "0"}).heatmap_idle_slot
    with pytest.raises(ValueError, match="must be 0 .off. or 1 .on."):
        ServiceSettings.from_env({HEATMAP_IDLE_SLOT_ENV: "yes"})


def test_a_slot_is_borrowed_only_when_idle_and_always_returned():
    import asyncio

    from pneumolib.serving.app import idle_slot

    async def scenario() -> list:
        slots = asyncio.Semaphore(2)
        seen = []
        async with slots:
            async with idle_slot(slots, wanted=True) as borrowed:
                seen.append((borrowed, slots.locked()))
            async with idle_slot(slots, wanted=False) as borrowed:
                seen.append((borrowed, slots.locked()))
            async with slots:  # every slot busy: nothing to borrow, and no waiting for one
                async with idle_slot(slots, wanted=True) as borrowed:
                    seen.append((borrowed, slots.locked()))
        seen.append(("free again", slots._value))
        return seen

    assert asyncio.run(scenario()) == [(True, True), (False, False), (False, True), ("free again", 2)]
