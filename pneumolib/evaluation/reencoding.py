"""Does the call survive a re-encode? The same film saved again as a JPEG, as PACS exports and browsers do.

The pixels a radiologist sees do not change when a film is exported as a quality-95 JPEG, in RGB
or CMYK, baseline or progressive; a model that reads the lungs should not change its mind
either. Each val film is re-encoded in every :data:`VARIANTS` way with Pillow, decoded by the
service's own upload decoder (:func:`pneumolib.decode.image.decode_image`), preprocessed as at
inference, and scored; the check reports how far P(pneumonia) moved and how many calls flipped.

Targets (from the project's model-quality goals): for 95 % of films P moves by at most
:data:`MAX_MOVE`, and no call flips.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.data.inputs.shifts import REENCODINGS, reencode
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file
from pneumolib.decode.image import decode_image
from pneumolib.engine import Engine, calibrated_probability

MAX_MOVE = 0.03
MOVE_QUANTILE = 0.95
MOVE_COLUMN = f"p{round(100 * MOVE_QUANTILE)}_move"
"""The check's column for that quantile of the moves (``p95_move``)."""

#: The re-encodes of stress val, plus a hard quality-30 save: name -> (Pillow mode, save options).
VARIANTS: dict[str, tuple[str, dict]] = {**REENCODINGS, "JPEG q30": ("L", {"quality": 30})}


def reencode_variant(film: np.ndarray, variant: str) -> bytes:
    """The (H, W) uint8 film saved as the named JPEG variant."""
    mode, options = VARIANTS[variant]
    return reencode(film, mode, **options)


def reencoded_inputs(film: np.ndarray, size: int, jpeg_quality: int | None,
                     variants: Sequence[str] = tuple(VARIANTS)) -> np.ndarray:
    """(len(variants), size, size) uint8: each re-encode decoded as an upload and preprocessed."""
    return np.stack([canonical_image(decode_image(reencode_variant(film, v), "film.jpg").pixels, size, jpeg_quality)
                     for v in variants])


def reencoding_check(engine: Engine, films: Sequence[np.ndarray], size: int, jpeg_quality: int | None,
                     temperature: float, threshold: float, variants: Sequence[str] = tuple(VARIANTS),
                     progress: bool = True) -> pd.DataFrame:
    """Per variant: the ``MOVE_QUANTILE`` quantile and the largest |change in P(pneumonia)|, and the
    calls flipped at ``threshold``, over original films (H, W) uint8 against their clean inputs."""
    moves = {v: [] for v in variants}
    flips = {v: 0 for v in variants}
    for film in tqdm(films, desc="re-encoding check", disable=not progress):
        batch = np.concatenate([canonical_image(film, size, jpeg_quality)[None],
                                reencoded_inputs(film, size, jpeg_quality, variants)])
        probs = calibrated_probability(engine.logits(batch), temperature)
        for i, variant in enumerate(variants):
            moves[variant].append(abs(float(probs[1 + i] - probs[0])))
            flips[variant] += int((probs[1 + i] >= threshold) != (probs[0] >= threshold))
    rows = []
    for variant in variants:
        values = np.asarray(moves[variant])
        quantile = float(np.quantile(values, MOVE_QUANTILE)) if values.size else float("nan")
        rows.append({"variant": variant, "films": len(values), MOVE_COLUMN: quantile,
                     "max_move": float(values.max()) if values.size else float("nan"),
                     "flips": flips[variant], "flip_rate": flips[variant] / max(len(values), 1)})
    return pd.DataFrame(rows)


#: Per variant, the most calls it may flip (as a share of films): none for a quality-95 save,
#: 1 % for the hard quality-30 one.
MAX_FLIP_RATE: dict[str, float] = {**{name: 0.0 for name in REENCODINGS}, "JPEG q30": 0.01}


def check_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``meets`` column: the move target holds for the q95 saves, every flip limit holds."""
    moves_ok = [(variant not in REENCODINGS) or value <= MAX_MOVE
                for variant, value in zip(table["variant"], table[MOVE_COLUMN])]
    flips_ok = [rate <= MAX_FLIP_RATE.get(variant, 0.0) for variant, rate in zip(table["variant"], table["flip_rate"])]
    return table.assign(meets=[a and b for a, b in zip(moves_ok, flips_ok)])


def val_reencoding_check(checkpoint: str | os.PathLike, manifest: pd.DataFrame, data_root: DataRoot,
                         max_images: int | None = None, progress: bool = True) -> pd.DataFrame:
    """The check on the manifest's val films for a finalized ``checkpoint``, at its own balanced point."""
    from pneumolib.constants import BALANCED
    from pneumolib.data.inputs.arrays import subset_rows
    from pneumolib.inference import engine_for_checkpoint

    engine, _, metadata = engine_for_checkpoint(checkpoint)
    points = metadata.get("operating_points", {})
    if BALANCED not in points:
        raise ValueError(f"{checkpoint} is not finalized: the check flips calls at its balanced point, which "
                         "`python -m pneumolib finalize` decides on val")
    rows = subset_rows(manifest[manifest["split"] == "val"], max_images)
    films = [read_grayscale(manifest_file(data_root, path)) for path in rows["path"]]
    quality = metadata.get("jpeg_quality")
    table = reencoding_check(engine, films, int(metadata["image_size"]), int(quality) if quality else None,
                             float(metadata["temperature"]), float(points[BALANCED]["threshold"]), progress=progress)
    return check_verdicts(table)
