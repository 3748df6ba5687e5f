"""Re-place the not-a-chest-X-ray gate's threshold with a new site's own films.

The shipped threshold was placed between the training hospital's films (under simulated
acquisition shifts) and a reference set of non-X-rays. Another hospital's scanners and export
settings can put its films further out than anything simulated, and the gate then refuses real
X-rays. A research team can show the gate a sample of its own frontal chest films (unlabelled;
a few hundred; not the films it will later report results on): the threshold moves to the middle
of the gap between those films and the reference non-X-rays (:func:`pneumolib.gate.mahalanobis.gap_margin`),
never below the shipped one. When there is no gap (the site's films look as foreign to the model
as photos do) nothing is loosened and :class:`GateCalibrationError` says why: the model itself
then needs data from that site.

Only the gate changes: weights, temperature and operating points stay as they are. The result is
recorded in the checkpoint's metadata (``ood_gate.site_calibration``), so ``GET /model`` shows it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pneumolib.checkpoint import load_checkpoint, read_checkpoint, write_payload
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.decode.errors import ImageFileError
from pneumolib.decode.formats import image_files
from pneumolib.decode.image import decode_image
from pneumolib.engine import create_engine
from pneumolib.file_digest import file_sha256
from pneumolib.gate.fit import gate_features, reference_features
from pneumolib.gate.mahalanobis import MahalanobisGate, gap_bounds, margin_between

MIN_SITE_FILMS = 20
SITE_QUANTILE = 0.995


class GateCalibrationError(ValueError):
    """The site's films cannot be used to re-place the gate (too few, or no gap to place it in)."""


@dataclass(frozen=True)
class SiteCalibration:
    """What the calibration saw and changed."""

    films: int
    skipped: list[str]
    margin_before: float
    margin_after: float
    site_accept_before: float
    site_accept_after: float
    reference_reject_after: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def site_films(folder: str | os.PathLike) -> list[Path]:
    """Every JPEG, PNG and DICOM file below ``folder``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GateCalibrationError(f"{folder} is not a folder of X-ray files.")
    return image_files(folder, recursive=True)


def calibrate_gate_for_site(
    checkpoint: str | os.PathLike,
    films: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    progress: bool = True,
) -> SiteCalibration:
    """Write ``out``: ``checkpoint`` with its gate threshold re-placed for ``films``."""
    payload = read_checkpoint(checkpoint)
    if not isinstance(payload.get("ood_gate"), dict):
        raise GateCalibrationError(f"{checkpoint} has no not-a-chest-X-ray gate; finalize it first.")
    gate = MahalanobisGate.from_state(payload["ood_gate"])
    if not gate.layers_ or gate.quantile_distance_ is None:
        raise GateCalibrationError(f"{checkpoint} has a gate from an older pneumolib that cannot be re-placed; "
                                   "finalize the model again with this version.")
    model, metadata = load_checkpoint(checkpoint)
    size, quality = int(metadata["image_size"]), metadata.get("jpeg_quality")
    engine = create_engine(model, size, gate.layers_, file_sha256(checkpoint))  # ONNX Runtime on a CPU

    canonical, skipped = [], []
    for path in tqdm([Path(f) for f in films], desc="reading site films", disable=not progress, leave=False):
        try:
            pixels = decode_image(path.read_bytes(), path.name).pixels
        except (OSError, ImageFileError) as error:
            skipped.append(f"{path.name}: {getattr(error, 'detail', error)}")
            continue
        canonical.append(canonical_image(pixels, size, quality))
    if len(canonical) < MIN_SITE_FILMS:
        raise GateCalibrationError(f"{len(canonical)} readable films; at least {MIN_SITE_FILMS} are needed "
                                   "(a few hundred give a steadier threshold).")

    site = gate_features(engine, np.stack(canonical), gate.layers_, progress=progress, desc="gate: site films")
    reference = reference_features(engine, gate.layers_, size, quality, progress=progress)
    margin_before, accept_before = gate.margin_, float(gate.accepts(site).mean())
    site_far, reference_near = gap_bounds(gate, site, reference, xray_quantile=SITE_QUANTILE)
    if reference_near <= site_far:
        raise GateCalibrationError(
            f"These films lie as far from the training films as the reference non-X-rays do (99.5th "
            f"percentile distance {site_far:.1f} vs {reference_near:.1f} for the nearest 5 % of "
            "non-X-rays), so the gate cannot be loosened for them without letting photos and documents "
            "through. Check that they are frontal chest X-rays; if they are, the model needs training "
            "data from this site. The checkpoint was not changed.")
    gate.set_margin(max(margin_before, margin_between(gate, site_far, reference_near)))

    result = SiteCalibration(
        films=len(canonical), skipped=skipped, margin_before=float(margin_before), margin_after=float(gate.margin_),
        site_accept_before=accept_before, site_accept_after=float(gate.accepts(site).mean()),
        reference_reject_after=float((~gate.accepts(reference)).mean()),
    )
    payload["ood_gate"] = gate.to_state()
    payload["metadata"] = {**payload["metadata"], "ood_gate": {**payload["metadata"].get("ood_gate", {}),
                                                               "site_calibration": result.to_dict()}}
    write_payload(out, payload)
    return result
