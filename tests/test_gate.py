"""Tests for the Mahalanobis "not a chest X-ray" gate and the not-X-ray fixture images."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pneumolib.decode.image import decode_image
from pneumolib.gate.mahalanobis import MahalanobisGate, gap_margin

FIXTURES = Path(__file__).parent / "fixtures" / "not_xray"


def correlated_cloud(rng: np.random.Generator, n: int, d: int, mixing: np.ndarray,
                     shift: float = 0.0) -> np.ndarray:
    """Gaussian samples with a non-diagonal covariance (so plain Euclidean distance would fail)."""
    return rng.normal(size=(n, d)) @ mixing + shift


@pytest.fixture(scope="module")
def cloud() -> tuple[np.random.Generator, np.ndarray, np.ndarray, MahalanobisGate]:
    rng = np.random.default_rng(11)
    d = 16
    mixing = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)
    train = correlated_cloud(rng, 20_000, d, mixing)
    return rng, mixing, train, MahalanobisGate().fit(train, quantile=0.995)


def test_accepts_about_the_quantile_of_fresh_samples(cloud) -> None:
    rng, mixing, _, gate = cloud
    fresh = correlated_cloud(rng, 20_000, mixing.shape[0], mixing)
    rate = gate.accepts(fresh).mean()
    assert 0.992 <= rate <= 0.998, rate


def test_rejects_a_shifted_cloud(cloud) -> None:
    rng, mixing, _, gate = cloud
    shifted = correlated_cloud(rng, 5_000, mixing.shape[0], mixing, shift=1.5)
    assert gate.accepts(shifted).mean() < 0.01


def test_rejects_a_cloud_that_only_differs_in_correlation(cloud) -> None:
    """Same per-feature scale, other correlations: a per-feature z-score would miss this."""
    rng, mixing, _, gate = cloud
    d = mixing.shape[0]
    scale = np.sqrt((mixing**2).sum(axis=0))  # per-feature sd of the training cloud
    independent = rng.normal(size=(5_000, d)) * scale
    assert gate.accepts(independent).mean() < 0.5


def test_threshold_is_the_quantile_times_margin(cloud) -> None:
    _, _, train, gate = cloud
    loose = MahalanobisGate().fit(train, quantile=0.995, margin=1.5)
    assert loose.threshold_ == pytest.approx(1.5 * gate.threshold_)
    strict = MahalanobisGate().fit(train, quantile=0.9)
    assert strict.threshold_ < gate.threshold_


def test_held_out_threshold_corrects_in_sample_bias() -> None:
    """In high dimension with few samples, in-sample distances are too small to set the bar."""
    rng = np.random.default_rng(5)
    d = 64
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    train = correlated_cloud(rng, 1_000, d, mixing)
    fresh = correlated_cloud(rng, 20_000, d, mixing)
    in_sample = MahalanobisGate().fit(train, folds=1).accepts(fresh).mean()
    held_out = MahalanobisGate().fit(train, folds=5).accepts(fresh).mean()
    assert held_out >= 0.99
    assert in_sample < held_out - 0.005


def test_state_round_trip_through_torch_weights_only(cloud) -> None:
    rng, mixing, _, gate = cloud
    state = gate.to_state()
    for value in state.values():
        assert isinstance(value, (torch.Tensor, float, int, str, list)), type(value)
    assert all(isinstance(name, str) for name in state["layers"])
    buf = io.BytesIO()
    torch.save({"gate": state, "other": torch.zeros(2)}, buf)
    buf.seek(0)
    restored = MahalanobisGate.from_state(torch.load(buf, weights_only=True)["gate"])

    probe = np.concatenate([
        correlated_cloud(rng, 3_000, mixing.shape[0], mixing),
        correlated_cloud(rng, 3_000, mixing.shape[0], mixing, shift=0.3),
    ]).astype(np.float32)
    assert np.array_equal(restored.distance(probe), gate.distance(probe))
    assert np.array_equal(restored.accepts(probe), gate.accepts(probe))
    accepted = gate.accepts(probe).mean()
    assert 0.2 < accepted < 0.99  # the probe sits on the boundary, so equality means something
    assert restored.threshold_ == gate.threshold_ and restored.n_train_ == 20_000


def test_layers_and_margin_survive_the_round_trip(cloud) -> None:
    _, _, train, _ = cloud
    gate = MahalanobisGate().fit(train[:2_000], layers=("a.b", "c")).set_margin(1.3)
    buf = io.BytesIO()
    torch.save(gate.to_state(), buf)
    buf.seek(0)
    restored = MahalanobisGate.from_state(torch.load(buf, weights_only=True))
    assert restored.layers_ == ("a.b", "c")
    assert restored.threshold_ == pytest.approx(1.3 * gate.quantile_distance_)
    assert restored.set_margin(1.0).threshold_ == pytest.approx(gate.quantile_distance_)


def test_version_1_states_still_load(cloud) -> None:
    """Checkpoints written before layers existed: final pooled features, a fixed threshold."""
    _, _, _, gate = cloud
    state = gate.to_state()
    for key in ("quantile_distance", "layers"):
        del state[key]
    restored = MahalanobisGate.from_state({**state, "version": 1})
    assert restored.layers_ == () and restored.threshold_ == gate.threshold_
    with pytest.raises(RuntimeError, match="version 2"):
        restored.set_margin(1.2)
    with pytest.raises(ValueError, match="version"):
        MahalanobisGate.from_state({**state, "version": 99})


def test_groups_keep_views_of_one_image_in_one_fold() -> None:
    """Near-copies split across folds score each other as close: the threshold comes out too strict."""
    rng = np.random.default_rng(3)
    d = 48
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    base = correlated_cloud(rng, 600, d, mixing)
    views = np.concatenate([base, base + rng.normal(scale=0.05, size=base.shape)])
    groups = np.tile(np.arange(len(base)), 2)
    fresh = correlated_cloud(rng, 20_000, d, mixing)
    grouped = MahalanobisGate().fit(views, groups=groups)
    ungrouped = MahalanobisGate().fit(views)
    assert grouped.threshold_ > ungrouped.threshold_
    assert grouped.accepts(fresh).mean() > ungrouped.accepts(fresh).mean()
    with pytest.raises(ValueError, match="one entry per row"):
        MahalanobisGate().fit(views, groups=groups[:10])
    with pytest.raises(ValueError, match="groups"):
        MahalanobisGate().fit(views, groups=np.arange(len(views)) % 3)


def test_gap_margin_moves_the_threshold_between_xrays_and_others(cloud) -> None:
    rng, mixing, _, gate = cloud
    d = mixing.shape[0]
    shifted = correlated_cloud(rng, 2_000, d, mixing * 1.1)  # a little wider than training
    others = correlated_cloud(rng, 500, d, mixing, shift=2.0)
    margin = gap_margin(gate, shifted, others)
    low = np.quantile(gate.distance(shifted), 0.995)
    high = np.quantile(gate.distance(others), 0.05)
    assert margin > 1.0
    assert margin * gate.quantile_distance_ == pytest.approx(np.sqrt(low * high))
    moved = MahalanobisGate.from_state(gate.to_state()).set_margin(margin)
    assert moved.accepts(shifted).mean() >= 0.995 and not moved.accepts(others).mean() > 0.05


def test_gap_margin_never_tightens_and_ignores_overlap(cloud) -> None:
    rng, mixing, train, gate = cloud
    d = mixing.shape[0]
    overlapping = correlated_cloud(rng, 500, d, mixing)
    assert gap_margin(gate, train[:1_000], overlapping) == 1.0
    tight = correlated_cloud(rng, 500, d, mixing * 0.3)  # X-rays far inside the training quantile
    assert gap_margin(gate, tight, correlated_cloud(rng, 500, d, mixing, shift=0.8)) == 1.0
    assert gap_margin(gate, train[:100], np.full((3, d), np.nan)) == 1.0  # no finite non-X-ray


def test_nonfinite_rows_are_rejected_and_single_vectors_work(cloud) -> None:
    _, _, train, gate = cloud
    rows = train[:3].copy()
    rows[1, 4] = np.nan
    rows[2, 0] = np.inf
    assert gate.accepts(rows).tolist() == [bool(gate.accepts(train[:1])[0]), False, False]
    assert gate.distance(train[0]).shape == (1,)


def test_misuse_raises_clear_errors(cloud) -> None:
    _, _, train, gate = cloud
    with pytest.raises(RuntimeError, match="not fitted"):
        MahalanobisGate().accepts(train[:2])
    with pytest.raises(ValueError, match="shape"):
        gate.distance(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="NaN"):
        MahalanobisGate().fit(np.full((50, 3), np.nan))
    with pytest.raises(ValueError, match="quantile"):
        MahalanobisGate().fit(train[:100], quantile=1.5)
    with pytest.raises(ValueError, match="kind"):
        MahalanobisGate.from_state({"kind": "something else"})


def test_fits_in_feature_dimension_above_sample_count() -> None:
    """EfficientNet-style 1280-d features from a few hundred images: shrinkage keeps it finite."""
    rng = np.random.default_rng(2)
    train = rng.normal(size=(300, 1280)).astype(np.float32)
    gate = MahalanobisGate().fit(train, folds=3)
    far = train[:50] + 3.0
    assert np.isfinite(gate.threshold_)
    assert gate.accepts(rng.normal(size=(200, 1280))).mean() > 0.9
    assert not gate.accepts(far).any()


# ---------------------------------------------------------------------------------------------
# The not-X-ray fixture set
# ---------------------------------------------------------------------------------------------


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.suffix in (".png", ".jpg"))


def listed_in_sources() -> dict[str, str]:
    """file name -> category, from the table in SOURCES.md."""
    text = (FIXTURES / "SOURCES.md").read_text()
    rows = re.findall(r"^\| (\S+\.(?:png|jpg)) \| ([^|]+) \|", text, flags=re.MULTILINE)
    return {name: category.strip() for name, category in rows}


def test_fixture_set_is_varied_small_and_documented() -> None:
    files = fixture_files()
    listed = listed_in_sources()
    assert 40 <= len(files) <= 60
    assert {p.name for p in files} == set(listed)
    assert sum(p.stat().st_size for p in files) < 1.5 * 1024 * 1024
    categories = set(listed.values())
    for needed in ("photo", "document", "screenshot", "blank", "noise", "gradient", "colour chart"):
        assert needed in categories
    text = (FIXTURES / "SOURCES.md").read_text()
    assert "CC BY 2.0" in text and "Matplotlib License" in text


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_fixture_decodes(path: Path) -> None:
    result = decode_image(path.read_bytes(), path.name)
    assert result.source_format == {".png": "png", ".jpg": "jpeg"}[path.suffix]
    assert result.pixels.dtype == np.uint8 and result.pixels.ndim == 2
    assert not any("content" in w for w in result.warnings)  # extension matches the bytes


def test_measure_gate_passes_xrays_and_refuses_other_pictures():
    """The figures the model card quotes, through the service's own path (here: the tiny checkpoint)."""
    from serving_fixtures import NOT_XRAY_DIR, tiny_checkpoint, xray_paths

    from pneumolib.decode.formats import image_files
    from pneumolib.serving.gate_measure import measure_gate
    from pneumolib.serving.predictor import Predictor

    predictor = Predictor.load(tiny_checkpoint())
    others = [p for p in image_files(NOT_XRAY_DIR) if p.name.startswith("blank")]
    result = measure_gate(predictor, xray_paths()[:6], others, progress=False)
    assert len(result.xrays) == 6 and set(result.others) == {p.name for p in others}
    assert set(result.passed) | set(result.refused_xrays) == set(result.xrays)
    assert set(result.refused_others) | set(result.let_through) <= set(result.others)
    assert all(r is None or r >= 0 for r in [*result.xrays.values(), *result.others.values()])
    text = result.summary()
    assert f"X-rays passed: {len(result.passed)}/6" in text and "non-X-rays refused:" in text
    assert result.refused_others  # blank images are the easiest refusals
