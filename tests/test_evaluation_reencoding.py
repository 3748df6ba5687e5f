"""The re-encoding check: every JPEG variant decodes through the service's decoder; moves and flips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pneumolib.data.inputs.shifts import REENCODINGS, STRESS_SHIFTS, reencode
from pneumolib.data.release.images import read_grayscale
from pneumolib.engine.base import Engine
from pneumolib.evaluation.reencoding import VARIANTS, reencode_variant, reencoded_inputs, reencoding_check
from pneumolib.samples import SAMPLE_FILM


@pytest.fixture(scope="module")
def film() -> np.ndarray:
    return read_grayscale(SAMPLE_FILM)


def test_each_variant_is_a_real_jpeg_of_its_kind(film):
    from io import BytesIO

    from PIL import Image

    for name, (mode, options) in VARIANTS.items():
        data = reencode_variant(film, name)
        with Image.open(BytesIO(data)) as image:
            assert image.format == "JPEG" and image.mode == mode
            assert bool(image.info.get("progressive")) == bool(options.get("progressive"))


def test_colour_and_progressive_saves_of_a_grayscale_film_read_back_as_the_same_pixels(film):
    """Why stress val carries one q95 re-encode for all four."""
    read = [STRESS_SHIFTS["re-encoded JPEG q95"](film)]
    from pneumolib.decode.image import decode_image

    read += [decode_image(reencode(film, mode, **options), "x.jpg").pixels for mode, options in REENCODINGS.values()]
    assert all(np.array_equal(read[0], other) for other in read[1:])
    assert 0 < np.abs(read[0].astype(int) - film).mean() < 2  # re-encoded, nearly the same film


class MeanEngine(Engine):
    """Margin logit proportional to the mean grey level: sensitive to what a re-encode changes."""

    def __init__(self, gain: float) -> None:
        self.gain = gain

    def run(self, batch, outputs):
        batch = np.asarray(batch, dtype=np.float32)
        margin = self.gain * (batch.mean(axis=(1, 2, 3)) - 0.45)
        return {"logits": np.stack([np.zeros_like(margin), margin], axis=1), "pooled": batch.mean(axis=(2, 3))}


def test_the_check_reports_moves_and_flips(film):
    inputs = reencoded_inputs(film, 64, 75)
    assert inputs.shape == (len(VARIANTS), 64, 64) and inputs.dtype == np.uint8
    steady = reencoding_check(MeanEngine(0.0), [film, film[::-1]], 64, 75, 1.0, 0.5, progress=False)
    assert list(steady["variant"]) == list(VARIANTS) and (steady["films"] == 2).all()
    assert (steady["max_move"] == 0).all() and (steady["flips"] == 0).all()
    clean_mean = film.mean() / 255  # a threshold right at the clean film's probability: any move can flip
    jumpy = reencoding_check(MeanEngine(2000.0), [film], 64, 75, 1.0, 1 / (1 + np.exp(-2000 * (clean_mean - 0.45))),
                             progress=False)
    assert (jumpy["max_move"] > 0).any() and jumpy.loc[jumpy["variant"] == "JPEG q30", "max_move"].item() > 0


def test_verdicts_hold_the_q95_saves_to_the_move_target_and_q30_to_one_percent_flips():
    import pandas as pd

    from pneumolib.evaluation.reencoding import MAX_MOVE, check_verdicts

    q95 = next(iter(REENCODINGS))
    table = pd.DataFrame({"variant": [q95, q95, "JPEG q30", "JPEG q30"],
                          "p95_move": [MAX_MOVE, MAX_MOVE + 0.001, 0.5, 0.5],
                          "flip_rate": [0.0, 0.0, 0.01, 0.011]})
    assert list(check_verdicts(table)["meets"]) == [True, False, True, False]
    one_flip = table.iloc[:1].assign(flip_rate=1 / 525)
    assert not check_verdicts(one_flip)["meets"].item()  # a q95 save may flip no call at all


def test_the_val_check_refuses_an_unfinalized_checkpoint(tmp_path):
    from pneumolib.checkpoint import save_checkpoint
    from pneumolib.evaluation.reencoding import val_reencoding_check
    from pneumolib.models import create_model

    path = save_checkpoint(tmp_path / "raw.pt", create_model("efficientnet_lite0", pretrained=False),
                           {"architecture": "efficientnet_lite0", "image_size": 64})
    with pytest.raises(ValueError, match="not finalized"):
        val_reencoding_check(path, None, None)


def _record_rows(sha: str, name: str, q95_flips: int) -> list[dict]:
    rows = [{"variant": v, "films": 200, "p95_move": 0.004, "max_move": 0.1, "flips": q95_flips,
             "flip_rate": q95_flips / 200, "meets": q95_flips == 0, "checkpoint": name, "sha256": sha}
            for v in ("JPEG q95 grayscale", "JPEG q95 RGB")]
    return rows + [{"variant": "JPEG q30", "films": 200, "p95_move": 0.08, "max_move": 0.5, "flips": 1,
                    "flip_rate": 0.005, "meets": True, "checkpoint": name, "sha256": sha}]


def test_the_cards_reencoding_section_puts_this_model_first_and_merges_identical_saves():
    from pneumolib.reporting.reencoding_card import render_reencoding_section

    record = pd.DataFrame(_record_rows("a" * 64, "old.pt", 0) + _record_rows("b" * 64, "new.pt", 1))
    text = render_reencoding_section(record, "b" * 64)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith("| this model | JPEG q95 grayscale, JPEG q95 RGB | 200 | 0.0040 | 0.100 | 1 (0.50 %) | missed")
    assert rows[1].startswith("| this model | JPEG q30 |") and rows[1].endswith("| met |")
    assert rows[2].startswith("| old.pt (sha256 aaaaaaaaaaaa...) | JPEG q95 grayscale, JPEG q95 RGB |")
    assert len(rows) == 4 and "0.03" in text and "1 % of calls" in text
    assert "other weights" in render_reencoding_section(record, "c" * 64)
    assert "No re-encoding record" in render_reencoding_section(None, "b" * 64)
