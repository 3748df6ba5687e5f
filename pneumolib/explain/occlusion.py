"""How much the call rests on each lung zone, measured by hiding it: occlusion.

A heatmap says where features that the head weighs were strong; it does not say the call would
change without them. Occlusion asks the model directly: fill one zone with something carrying no
evidence, score the film again, and read the drop in P(pneumonia). On a CPU the six hidden copies
go through the engine one image per pass (:func:`pneumolib.engine.lending.run_one_by_one`): on a
small CPU that is faster than one batch, and it lets a heatmap request use an idle second core for
exactly as long as no other request waits for it. On a GPU they go as one batch: there, one image
per pass took 5.8x as long as the batch (87.0 against 15.0 ms for the bundled ensemble on an H200;
``scripts/bench_occlusion.py --device cuda`` times both ways on the machine at hand).

What "carrying no evidence" means is an empirical question: a grey patch in a lung can look like
an opacity (evidence *for* pneumonia), a black one like hyperinflated lung, and any flat patch
lacks the texture of normal lung; the ``reference`` fill paints in the texture of a typical normal
training film instead (:mod:`pneumolib.explain.reference_film`). The candidate fills are listed
in :data:`FILLS`; :func:`choose_fill` applies a rule fixed in code before any comparison (the fill
that moves the scores of films called normal least, i.e. adds the least evidence of its own) and
the choice is stored with the model's explanation settings.

The rule reads the change in the model's **logit**, not in P(pneumonia): films called normal sit
near P = 0, where the sigmoid flattens every change (at P = 0.001 a logit change of 1 moves P by
under 0.002), so in probability units all fills look neutral and the ranking among them is noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pandas as pd

from pneumolib.engine import Engine, calibrated_probability, margin_logits
from pneumolib.engine.lending import Lent, run_one_by_one
from pneumolib.explain.reference_film import matched_reference
from pneumolib.explain.zones import ZONE_NAMES, LungZones

DEFAULT_FILL = "blur"


def _blur(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The film itself, heavily blurred: its brightness stays, its texture (the evidence) goes."""
    sigma = max(image.shape) / 16
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def _lung_mean(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.full_like(image, float(image[mask].mean()) if mask.any() else float(image.mean()))


def _grey(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.full_like(image, 0.5)


def _black(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.zeros_like(image)


def _reference(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Lung texture from a typical normal training film, at this film's exposure (:mod:`.reference_film`)."""
    return matched_reference(image)


#: name -> (image float (S, S) in [0, 1], the region to hide) -> what the region is filled with.
FILLS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "blur": _blur, "lung_mean": _lung_mean, "grey": _grey, "black": _black, "reference": _reference,
}


def occlusion_fill_of(metadata: Mapping[str, Any]) -> str:
    """The fill a finalized checkpoint's metadata names (chosen on val), else :data:`DEFAULT_FILL`."""
    return str((metadata.get("explanation") or {}).get("occlusion_fill", DEFAULT_FILL))


def occluded(image: np.ndarray, masks: np.ndarray, fill: str = DEFAULT_FILL) -> np.ndarray:
    """(K, S, S) float32: ``image`` (S, S) in [0, 1] with each of ``masks`` (K, S, S) filled."""
    if fill not in FILLS:
        raise ValueError(f"unknown fill {fill!r}; choose one of {sorted(FILLS)}")
    image = np.asarray(image, dtype=np.float32)
    masks = np.asarray(masks, dtype=bool)
    if masks.shape[1:] != image.shape:
        raise ValueError(f"masks {masks.shape[1:]} and image {image.shape} differ in size")
    lungs = masks.any(axis=0)
    filler = FILLS[fill](image, lungs).astype(np.float32)
    return np.where(masks, filler[None], image[None]).astype(np.float32)


def logits_of(engine: Engine, images: np.ndarray) -> np.ndarray:
    """Pneumonia-minus-normal logits of float images (N, S, S) in [0, 1], one batched pass."""
    return margin_logits(engine.run(np.asarray(images, dtype=np.float32)[:, None], ("logits",))["logits"])


def probabilities(engine: Engine, images: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Calibrated P(pneumonia) of float images (N, S, S) in [0, 1], one batched pass."""
    return calibrated_probability(logits_of(engine, images), temperature)


def probabilities_one_by_one(engine: Engine, images: np.ndarray, temperature: float = 1.0,
                             lent: Lent | None = None) -> np.ndarray:
    """:func:`probabilities`, one image per pass, with a ``lent`` core's thread joining in while it may."""
    logits = run_one_by_one(lambda one: logits_of(engine, one[None]), np.asarray(images, dtype=np.float32), lent)
    return calibrated_probability(np.asarray(logits, dtype=np.float32).ravel(), temperature)


@dataclass(frozen=True)
class ZoneContribution:
    zone: str
    contribution: float
    """P(pneumonia) of the film minus P(pneumonia) with this zone hidden: > 0, the zone pushed
    towards pneumonia; < 0, towards normal."""
    heat_share: float | None
    """Share of the heatmap's mass inside the zone (None when no heatmap was given)."""
    source: str  # "segmented" or "prior"

    def as_dict(self) -> dict[str, object]:
        return {"zone": self.zone, "contribution": round(self.contribution, 4),
                "heat_share": None if self.heat_share is None else round(self.heat_share, 4), "source": self.source}


@dataclass(frozen=True)
class ZoneReport:
    probability: float
    contributions: list[ZoneContribution]  # sorted, largest contribution first
    mask_source: str  # "segmented", "prior" or "mixed"
    fill: str

    def sentence(self, called_pneumonia: bool) -> str:
        """One plain sentence for a reader; the caveat is the caller's (the service adds it)."""
        top = self.contributions[0]
        if called_pneumonia:
            if top.contribution < 0.01:
                return "No single lung zone carries the call: hiding any one changes P(pneumonia) by less than 0.01."
            return (f"The call rests mostly on the {top.zone} zone: hiding it lowers P(pneumonia) "
                    f"by {top.contribution:.2f}.")
        if top.contribution < 0.01:
            return "No lung zone pushes this film towards pneumonia by more than 0.01."
        return f"The zone that pushes most towards pneumonia is the {top.zone} zone (+{top.contribution:.2f})."

    def as_dict(self, called_pneumonia: bool) -> dict[str, object]:
        return {"zones": [c.as_dict() for c in self.contributions], "mask_source": self.mask_source,
                "fill": self.fill, "summary": self.sentence(called_pneumonia)}


def zone_report(engine: Engine, image: np.ndarray, zones: LungZones, fill: str = DEFAULT_FILL,
                temperature: float = 1.0, heatmap: np.ndarray | None = None,
                probability: float | None = None, lent: Lent | None = None) -> ZoneReport:
    """Occlude each of the six zones of ``image`` (S, S float in [0, 1]) and score the copies
    (:func:`zone_drops`), with each zone's share of ``heatmap`` when one is given."""
    base, drops = zone_drops(engine, image, zones, fill, temperature, probability, lent)
    shares = [None] * len(ZONE_NAMES)
    if heatmap is not None:
        from pneumolib.explain.zones import heat_per_zone

        shares = [float(v) for v in heat_per_zone(heatmap, zones)]
    entries = [ZoneContribution(name, float(drops[i]), shares[i], zones.zone_source(name))
               for i, name in enumerate(ZONE_NAMES)]
    entries.sort(key=lambda entry: -entry.contribution)
    return ZoneReport(base, entries, zones.source, fill)


def zone_drops(engine: Engine, image: np.ndarray, zones: LungZones, fill: str = DEFAULT_FILL,
               temperature: float = 1.0, probability: float | None = None,
               lent: Lent | None = None) -> tuple[float, np.ndarray]:
    """P(pneumonia) of ``image`` (S, S float in [0, 1]) and, per zone in :data:`ZONE_NAMES` order,
    how much hiding it lowers that (6,), the film's own ``probability`` reused when given (a
    prediction already scored it). On a CPU one image per pass, a ``lent`` core scoring some of
    them side by side while it may; on a GPU one batch (and a ``lent`` core is given back unused)."""
    image = np.asarray(image, dtype=np.float32)
    films = occluded(image, zones.masks, fill)
    if probability is None:
        films = np.concatenate([image[None], films])
    if engine.runs_on_cpu:
        probs = probabilities_one_by_one(engine, films, temperature, lent)
    else:  # a second CPU core adds nothing to a GPU's batch: the offer goes back untaken
        if lent is not None:
            lent.give_back()
        probs = probabilities(engine, films, temperature)
    if probability is not None:
        probs = np.concatenate([[probability], probs])
    return float(probs[0]), probs[0] - probs[1:]


def fill_neutrality(engine: Engine, images: Sequence[np.ndarray], zones: Sequence[LungZones],
                    temperature: float = 1.0, fills: Sequence[str] = tuple(FILLS)) -> pd.DataFrame:
    """Per fill: how far hiding one zone of each film moves its score, in logits and in P(pneumonia).

    Meant for films called normal: a neutral fill hides evidence without adding any, so hiding a
    zone of a normal film should leave its score where it was. ``mean_logit_change`` keeps the
    sign (> 0: the fill reads as pneumonia).
    """
    films = [np.asarray(image, dtype=np.float32) for image in images]
    if not films:
        columns = ("mean_abs_logit_change", "mean_logit_change", "mean_abs_change", "max_abs_change")
        return pd.DataFrame([{"fill": fill, **dict.fromkeys(columns, float("nan")), "films": 0} for fill in fills])
    base = logits_of(engine, np.stack(films))
    rows = []
    for fill in fills:
        after = [logits_of(engine, occluded(image, film_zones.masks, fill)) for image, film_zones in zip(films, zones)]
        moved = np.concatenate([a - b for a, b in zip(after, base)])
        prob_moved = np.abs(np.concatenate([calibrated_probability(a, temperature) - calibrated_probability(b, temperature)
                                            for a, b in zip(after, base)]))
        rows.append({"fill": fill, "mean_abs_logit_change": float(np.abs(moved).mean()),
                     "mean_logit_change": float(moved.mean()), "mean_abs_change": float(prob_moved.mean()),
                     "max_abs_change": float(prob_moved.max()), "films": len(films)})
    return pd.DataFrame(rows)


def choose_fill(neutrality: pd.DataFrame) -> str:
    """The selection rule, fixed before any comparison: the smallest mean |change in logit| on films
    called normal; a tie goes to the earlier fill in :data:`FILLS`. Prints its decision."""
    order = {name: i for i, name in enumerate(FILLS)}
    ranked = neutrality.assign(order=neutrality["fill"].map(order)).sort_values(["mean_abs_logit_change", "order"])
    chosen = str(ranked.iloc[0]["fill"])
    print(f"occlusion fill: {chosen} (mean |change in logit| on films called normal "
          f"{ranked.iloc[0]['mean_abs_logit_change']:.4f}; next {ranked.iloc[1]['fill']} "
          f"{ranked.iloc[1]['mean_abs_logit_change']:.4f})" if len(ranked) > 1 else f"occlusion fill: {chosen}")
    return chosen


def fit_occlusion_fill(engine: Engine, images: np.ndarray, called_normal: np.ndarray, temperature: float = 1.0,
                       max_films: int = 60, seed: int = 0) -> dict[str, object]:
    """Choose the fill on val: :func:`fill_neutrality` over (up to ``max_films``, drawn with ``seed``)
    canonical images (N, S, S) uint8 called normal, then :func:`choose_fill`. Returns what
    ``finalize`` stores in the checkpoint's metadata under ``explanation``."""
    from pneumolib.explain.zones import lung_zones

    candidates = np.flatnonzero(np.asarray(called_normal, dtype=bool))
    if candidates.size == 0:
        return {"occlusion_fill": DEFAULT_FILL, "chosen_on": "no val film was called normal: the default fill"}
    chosen = np.sort(np.random.default_rng(seed).permutation(candidates)[:max_films])
    films = [np.asarray(images[i], dtype=np.float32) / 255.0 for i in chosen]
    table = fill_neutrality(engine, films, [lung_zones(images[i]) for i in chosen], temperature)
    return {"occlusion_fill": choose_fill(table), "chosen_on": f"{len(chosen)} val films called normal",
            "neutrality": table.to_dict(orient="records")}
