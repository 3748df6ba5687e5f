"""Re-placing the gate's threshold with a new site's films: loosens for real X-rays, not for photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from serving_fixtures import NOT_XRAY_DIR, tiny_checkpoint, xray_paths

from pneumolib.checkpoint import read_checkpoint
from pneumolib.cli import main
from pneumolib.decode.errors import NotAChestXray
from pneumolib.decode.image import decode_image
from pneumolib.deploy.site_calibration import GateCalibrationError, calibrate_gate_for_site, site_films
from pneumolib.serving.predictor import Predictor


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory) -> Path:
    """The fixture X-rays as another hospital might export them: softer and noisier; plus a broken file."""
    folder = tmp_path_factory.mktemp("site")
    for index, path in enumerate(xray_paths()):
        film = np.asarray(Image.open(path).convert("L"))
        film = cv2.GaussianBlur(film, (0, 0), 3)
        film = np.clip(film + np.random.default_rng(index).normal(0, 12, film.shape), 0, 255).astype(np.uint8)
        Image.fromarray(film).save(folder / f"site_{index:02d}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    return folder


@pytest.fixture(scope="module")
def calibrated(site_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("calibrated") / "site.pt"
    return calibrate_gate_for_site(tiny_checkpoint(), site_films(site_folder), out, progress=False), out


def test_site_films_that_were_refused_now_pass(calibrated, site_folder):
    result, out = calibrated
    assert result.films == 39 and len(result.skipped) == 1 and result.skipped[0].startswith("broken.jpg")
    assert result.site_accept_before < 0.5  # the shipped threshold refused most of them
    assert result.site_accept_after >= 0.97 and result.margin_after > result.margin_before
    assert result.reference_reject_after >= 0.95
    before, after = Predictor.load(tiny_checkpoint()), Predictor.load(out)
    film = decode_image((site_folder / "site_00.png").read_bytes())
    with pytest.raises(NotAChestXray):
        before.predict(film)
    assert after.predict(film).gate.passed


def test_photos_and_documents_are_still_refused(calibrated):
    _, out = calibrated
    predictor = Predictor.load(out)
    refused = 0
    files = sorted(p for p in NOT_XRAY_DIR.iterdir() if p.suffix in (".png", ".jpg"))
    for path in files:
        try:
            predictor.predict(decode_image(path.read_bytes(), path.name))
        except NotAChestXray:
            refused += 1
    assert refused / len(files) >= 0.9


def test_only_the_gate_changes_and_the_change_is_recorded(calibrated):
    result, out = calibrated
    original, updated = read_checkpoint(tiny_checkpoint()), read_checkpoint(out)
    assert updated["metadata"]["ood_gate"]["site_calibration"] == result.to_dict()
    assert updated["metadata"]["temperature"] == original["metadata"]["temperature"]
    assert updated["metadata"]["operating_points"] == original["metadata"]["operating_points"]
    for key, tensor in original["state_dict"].items():
        assert updated["state_dict"][key].equal(tensor), key
    assert updated["ood_gate"]["threshold"] > original["ood_gate"]["threshold"]


def test_non_xrays_as_site_films_are_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "never.pt"
    files = sorted(p for p in NOT_XRAY_DIR.iterdir() if p.suffix in (".png", ".jpg"))
    with pytest.raises(GateCalibrationError, match="as far from the training films as the reference"):
        calibrate_gate_for_site(tiny_checkpoint(), files, out, progress=False)
    assert not out.exists()


def test_too_few_films_and_bad_folders_are_clear_errors(tmp_path, site_folder):
    with pytest.raises(GateCalibrationError, match="at least 20"):
        calibrate_gate_for_site(tiny_checkpoint(), site_films(site_folder)[:5], tmp_path / "x.pt", progress=False)
    with pytest.raises(GateCalibrationError, match="not a folder"):
        site_films(tmp_path / "missing")


def test_command_line(site_folder, tmp_path, capsys):
    assert main(["calibrate-gate", str(tiny_checkpoint()), str(site_folder), str(tmp_path / "cli.pt")]) == 0
    assert "now" in capsys.readouterr().out and (tmp_path / "cli.pt").is_file()
    assert main(["calibrate-gate", str(tiny_checkpoint()), str(NOT_XRAY_DIR), str(tmp_path / "no.pt")]) == 1
    assert "cannot be loosened" in capsys.readouterr().err
