"""An installed pneumolib (no clone around it) carries every file it reads, or says what to do.

As a learner's Colab runtime has it: the package installed (not editable) into a folder of its
own, imported from another folder with only that install on the path. The build runs on a copy
of the working tree, so the checkout's own build/ and egg-info are neither used nor touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "MODEL_CARD.md", "data_manifest.csv",
                 "requirements.txt")

PROBE = r"""
import contextlib, io, json, os, sys
import pneumolib
from pneumolib.checkpoint import find_checkpoint, read_checkpoint
from pneumolib.cli import main
from pneumolib.config import checkout_root
from pneumolib.data.split.manifest import default_manifest_path, load_manifest, manifest_output_path
from pneumolib.samples import SAMPLE_FILM

def refused(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()

checkpoint, source = find_checkpoint()
print(json.dumps({
    "package": pneumolib.__file__, "checkout": str(checkout_root()), "manifest_path": str(default_manifest_path()),
    "manifest_rows": len(load_manifest()), "manifest_out": str(manifest_output_path()),
    "checkpoint": str(checkpoint), "source": source,
    "architecture": read_checkpoint(checkpoint)["metadata"]["architecture"],
    "sample": str(SAMPLE_FILM), "sample_bytes": SAMPLE_FILM.stat().st_size,
    "page": os.path.isfile(os.path.join(os.path.dirname(pneumolib.__file__), "serving", "static", "index.html")),
    "refused": {name: refused(*argv) for name, argv in {
        "docs": ["docs"], "test-log": ["test-log", "--update-docs"], "measure-gate": ["measure-gate"],
        "evaluate": ["evaluate", "--update-docs", "--offline"]}.items()},
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``pip install --no-deps --no-build-isolation --target`` of a copy of the working tree."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    shutil.copytree(REPO / "pneumolib", source / "pneumolib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp"))
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, source / name)
    target = base / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--no-compile", "--target", str(target), str(source)],
                           capture_output=True, text=True, timeout=300, cwd=base)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return target


def test_an_installed_package_reads_only_what_it_ships(installed, tmp_path):
    elsewhere = tmp_path / "content"
    elsewhere.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PNEUMO_")},
           "PYTHONPATH": str(installed), "PNEUMO_WORK_DIR": str(tmp_path / "work"), "PNEUMO_OFFLINE": "1"}
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                           cwd=elsewhere, env=env)
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    inside = str(installed / "pneumolib")
    assert found["package"].startswith(inside), found["package"]  # not the checkout's editable install
    assert found["checkout"] == "None"
    assert found["manifest_path"] == str(installed / "pneumolib" / "resources" / "data_manifest.csv")
    assert found["manifest_rows"] == 5856
    assert found["manifest_out"] == str(tmp_path / "work" / "data_manifest.csv")  # never inside the package
    assert found["checkpoint"].startswith(inside) and found["source"].startswith("bundled with pneumolib")
    assert found["architecture"] and found["sample"].startswith(inside) and found["sample_bytes"] > 0
    assert found["page"]
    for name, (code, message) in found["refused"].items():
        assert code == 2 and "clone" in message, (name, message)
    assert not (tmp_path / "work" / "test_access_log.csv").exists()  # refused before any look at the test split
