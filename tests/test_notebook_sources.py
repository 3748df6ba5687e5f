"""Each notebook's source of truth is the percent-format .py beside it; the .ipynb must match it."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from pneumolib import REPOSITORY_URL, __version__

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_download", "02_eda_dedup", "03_train", "04_evaluate", "05_gradcam", "06_serve"]
LOCAL_PATH = re.compile(r"(?<![\w.])/(home|root|work|Users|tmp|mnt)/[\w.-]+")


def cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_matches_its_source(name):
    source = jupytext.read(NOTEBOOKS / f"{name}.py")
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert cells(committed) == cells(source), (
        f"notebooks/{name}.ipynb differs from notebooks/{name}.py: edit the .py and run "
        f"`jupytext --sync notebooks/{name}.py` (or scripts/run_notebooks.sh {name})")


@pytest.mark.parametrize("name", NAMES)
def test_committed_outputs_hold_no_local_paths(name):
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in committed.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert not LOCAL_PATH.search(text), f"{name}: an output shows a local path: {LOCAL_PATH.search(text)[0]}"


def test_every_notebook_has_the_same_set_up_cell_installing_the_package_decision():
    from pneumolib import install_source

    setups = [jupytext.read(NOTEBOOKS / f"{name}.py").cells[1].source for name in NAMES]
    assert all(setup == setups[0] for setup in setups)
    assert f'INSTALL_FROM = "{install_source()}"' in setups[0]
    assert f'WRITTEN_FOR = "{__version__}"' in setups[0]


def test_badges_point_at_the_repository():
    badge = f"colab.research.google.com/github/{REPOSITORY_URL.removeprefix('https://github.com/')}/blob/main/notebooks/"
    for name in NAMES:
        assert f"{badge}{name}.ipynb" in jupytext.read(NOTEBOOKS / f"{name}.py").cells[0].source, name
    assert (NOTEBOOKS.parent / "README.md").read_text().count(badge) == len(NAMES)
