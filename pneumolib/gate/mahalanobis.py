"""A "not a chest X-ray" gate: Mahalanobis distance of a model's pooled features.

A classifier trained on two classes of chest X-rays gives a confident answer for a cat photo
too. The gate models the training images' pooled feature vectors as one Gaussian (mean plus a
shrinkage covariance, because ~1280 dimensions and a few thousand images make the plain sample
covariance singular) and refuses inputs whose distance from it is larger than almost every
training image's. It is model-agnostic: it sees only arrays of shape (n, d).

The threshold is a quantile of *held-out* distances (K-fold cross-fitting) by default. In-sample
distances are biased low in high dimensions (each point pulled the mean and covariance toward
itself), so a quantile of them would reject far more fresh X-rays than intended. When several
feature vectors come from one image (augmented views), ``groups`` keeps them in one fold.

That quantile only says how far *training-like* X-rays lie. X-rays from another hospital lie
further out, photos and documents further still, so :func:`gap_margin` can move the threshold
into the middle of the gap between X-rays under acquisition shifts and a reference set of
non-X-rays (both measured when the gate is fitted; see :mod:`pneumolib.gate.fit`).

``layers`` records which layers' pooled outputs the features are (empty: the model's final
pooled features), so a gate restored from a checkpoint reads the same ones.

The state is plain tensors, floats, ints and strings so that it can sit inside a checkpoint read
with ``torch.load(weights_only=True)``. Mean and precision are rounded to float32 *before* the
threshold is computed, so a gate restored from its state makes exactly the same decisions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg
from sklearn.covariance import LedoitWolf

_KIND = "pneumolib.mahalanobis_gate"
_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1: no layers (final pooled features), no quantile distance


class MahalanobisGate:
    """Accept feature vectors close to the training distribution, reject the rest."""

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.precision_: np.ndarray | None = None
        self.threshold_: float | None = None
        self.quantile_: float | None = None
        self.margin_: float = 1.0
        self.quantile_distance_: float | None = None
        self.n_train_: int = 0
        self.layers_: tuple[str, ...] = ()

    @property
    def is_fitted(self) -> bool:
        """True once :meth:`fit` or :meth:`from_state` has set the parameters."""
        return self.mean_ is not None

    def fit(
        self,
        features: np.ndarray,
        quantile: float = 0.995,
        *,
        margin: float = 1.0,
        folds: int = 5,
        seed: int = 0,
        groups: np.ndarray | None = None,
        layers: tuple[str, ...] = (),
    ) -> MahalanobisGate:
        """Fit on in-distribution features (n, d); threshold = quantile of distances x margin.

        ``folds >= 2`` takes the quantile over held-out distances (each fold scored by a model
        fitted on the others); ``folds=1`` uses in-sample distances (faster, stricter).
        ``groups`` (n,) assigns rows to folds by group, e.g. all augmented views of one image.
        ``margin > 1`` loosens the gate (see :meth:`set_margin` and :func:`gap_margin`).
        """
        x = _as_matrix(features, "features")
        n, d = x.shape
        if not 0.0 < quantile <= 1.0:
            raise ValueError(f"quantile must be in (0, 1], got {quantile}")
        if folds < 1:
            raise ValueError(f"folds must be >= 1, got {folds}")
        if n < max(2, folds) or (folds > 1 and n < 2 * folds):
            raise ValueError(f"need more samples than that to fit: n={n}, folds={folds}")
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or infinity")

        groups = np.arange(n) if groups is None else np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must have one entry per row ({n}), got shape {groups.shape}")
        unique = np.unique(groups)
        if folds > 1 and len(unique) < 2 * folds:
            raise ValueError(f"need at least {2 * folds} groups for {folds} folds, got {len(unique)}")

        mean, precision = _fit_gaussian(x)
        if folds == 1:
            distances = _distances(x, mean, precision)
        else:
            order = np.random.default_rng(seed).permutation(unique)
            distances = np.empty(n, dtype=np.float64)
            for held_groups in np.array_split(order, folds):
                held = np.isin(groups, held_groups)
                distances[held] = _held_out_distances(x[~held], x[held])

        self.mean_, self.precision_ = mean, precision
        self.quantile_ = float(quantile)
        self.quantile_distance_ = float(np.quantile(distances, quantile))
        self.n_train_ = int(n)
        self.layers_ = tuple(layers)
        self.set_margin(margin)
        return self

    def set_margin(self, margin: float) -> MahalanobisGate:
        """Threshold = the fitted quantile distance x ``margin`` (> 1 loosens, < 1 tightens)."""
        if not (np.isfinite(margin) and margin > 0):
            raise ValueError(f"margin must be a positive number, got {margin}")
        if self.quantile_distance_ is None:
            raise RuntimeError("set_margin needs a gate fitted here or restored from a version 2 state")
        self.margin_ = float(margin)
        self.threshold_ = self.quantile_distance_ * self.margin_
        return self

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row (n, d) or of a single vector (d,) -> shape (n,).

        Rows with NaN or infinity get ``inf``, so they are always rejected.
        """
        mean, precision = self._require_fitted()
        x = np.asarray(features, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != mean.shape[0]:
            raise ValueError(f"expected features of shape (n, {mean.shape[0]}), got {x.shape}")
        bad = ~np.isfinite(x).all(axis=1)
        out = _distances(np.where(bad[:, None], 0.0, x), mean, precision)
        out[bad] = np.inf
        return out

    def accepts(self, features: np.ndarray) -> np.ndarray:
        """Boolean per row: True when the distance is within the threshold."""
        self._require_fitted()
        return self.distance(features) <= self.threshold_

    def to_state(self) -> dict[str, Any]:
        """A ``torch.load(weights_only=True)``-safe dict: tensors, floats, ints and strings."""
        import torch

        mean, precision = self._require_fitted()
        return {
            "kind": _KIND,
            "version": _VERSION,
            "mean": torch.from_numpy(mean.astype(np.float32)),
            "precision": torch.from_numpy(precision.astype(np.float32)),
            "threshold": float(self.threshold_),
            "quantile": float(self.quantile_),
            "margin": float(self.margin_),
            "quantile_distance": float(self.quantile_distance_),
            "n_train": int(self.n_train_),
            "layers": list(self.layers_),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MahalanobisGate:
        """Rebuild a gate from :meth:`to_state`'s dict (tensors or arrays both accepted)."""
        if state.get("kind") != _KIND:
            raise ValueError(f"not a Mahalanobis gate state: kind={state.get('kind')!r}")
        if state.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"unsupported gate state version {state.get('version')!r}")
        gate = cls()
        gate.mean_ = _to_numpy(state["mean"]).astype(np.float64)
        gate.precision_ = _to_numpy(state["precision"]).astype(np.float64)
        d = gate.mean_.shape[0]
        if gate.mean_.ndim != 1 or gate.precision_.shape != (d, d):
            raise ValueError("gate state has inconsistent mean and precision shapes")
        gate.threshold_ = float(state["threshold"])
        gate.quantile_ = float(state["quantile"])
        gate.margin_ = float(state["margin"])
        gate.n_train_ = int(state["n_train"])
        if state["version"] >= 2:
            gate.quantile_distance_ = float(state["quantile_distance"])
            gate.layers_ = tuple(str(name) for name in state["layers"])
        return gate

    def _require_fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean_ is None or self.precision_ is None or self.threshold_ is None:
            raise RuntimeError("MahalanobisGate is not fitted; call fit() or from_state() first")
        return self.mean_, self.precision_


def gap_bounds(
    gate: MahalanobisGate,
    xrays: np.ndarray,
    non_xrays: np.ndarray,
    *,
    xray_quantile: float = 0.995,
    non_xray_quantile: float = 0.05,
) -> tuple[float, float]:
    """(a, b): the ``xray_quantile`` of the X-rays' distances and the ``non_xray_quantile`` of
    the non-X-rays' (finite ones only: non-finite features are refused whatever the threshold;
    inf when there is none). There is a gap to place a threshold in when a < b."""
    xray = gate.distance(xrays)
    other = gate.distance(non_xrays)
    if len(xray) == 0 or len(other) == 0:
        raise ValueError("need at least one X-ray and one non-X-ray")
    other = other[np.isfinite(other)]
    high = float(np.quantile(other, non_xray_quantile)) if other.size else float("inf")
    return float(np.quantile(xray, xray_quantile)), high


def gap_margin(gate: MahalanobisGate, shifted_xrays: np.ndarray, non_xrays: np.ndarray, **quantiles: float) -> float:
    """The margin that puts the threshold midway (geometrically) between X-rays and non-X-rays.

    ``shifted_xrays`` are feature rows of held-out X-rays under acquisition shifts the training
    never simulated, ``non_xrays`` those of a reference set of other pictures. The new threshold
    is sqrt(a * b) with (a, b) from :func:`gap_bounds`: as far from both as the two sets allow.
    The margin is never below 1 (the gate is never made stricter than the training quantile),
    and it stays 1 when there is no gap to move into.
    """
    return margin_between(gate, *gap_bounds(gate, shifted_xrays, non_xrays, **quantiles))


def margin_between(gate: MahalanobisGate, low: float, high: float) -> float:
    """The margin (>= 1) that puts the threshold at sqrt(low * high); 1 when low >= high or high is inf."""
    if gate.quantile_distance_ is None or not low < high < float("inf"):
        return 1.0
    return max(1.0, float(np.sqrt(low * high)) / gate.quantile_distance_)


def _as_matrix(features: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {x.shape}")
    return x


def _fit_gaussian(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Ledoit-Wolf precision, both rounded through float32 (what the state stores).

    The shrunk covariance is positive definite, so a Cholesky inverse is exact enough and
    several times faster than the pseudo-inverse scikit-learn would use at d = 1280.
    """
    lw = LedoitWolf(store_precision=False).fit(x)
    factor = linalg.cho_factor(lw.covariance_, lower=True)
    precision = linalg.cho_solve(factor, np.eye(x.shape[1]))
    precision = ((precision + precision.T) / 2).astype(np.float32).astype(np.float64)
    return lw.location_.astype(np.float32).astype(np.float64), precision


def _held_out_distances(train: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Distances of ``held`` under a Gaussian fitted on ``train``, via a triangular solve."""
    lw = LedoitWolf(store_precision=False).fit(train)
    lower = linalg.cholesky(lw.covariance_, lower=True)
    whitened = linalg.solve_triangular(lower, (held - lw.location_).T, lower=True)
    return np.sqrt(np.einsum("ij,ij->j", whitened, whitened))


def _distances(x: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """sqrt((x - mean)^T P (x - mean)) per row; tiny negative rounding clipped to zero."""
    centred = x - mean
    squared = np.einsum("ij,ij->i", centred @ precision, centred)
    return np.sqrt(np.maximum(squared, 0.0))


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
