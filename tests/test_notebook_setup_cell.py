"""The notebooks' set-up cell: installs the pinned release (or a local copy) in Colab and fails loudly."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import jupytext
import pytest

from pneumolib import REPOSITORY_URL, __version__

REPO = Path(__file__).resolve().parents[1]
SETUP = jupytext.read(REPO / "notebooks" / "01_download.py").cells[1].source  # the same in every notebook
CODE = "\n".join(line for line in SETUP.splitlines() if not line.startswith("%"))  # no IPython magics


class FakePip:
    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, command, **kwargs):
        self.calls.append(list(command))
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


@pytest.fixture
def colab(monkeypatch):
    """Pretend to be Colab, with pneumolib not yet installed."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pneumolib" else real(name, *a))
    monkeypatch.delenv("PNEUMOLIB_SOURCE", raising=False)
    pip = FakePip()
    monkeypatch.setattr(subprocess, "run", pip)
    return pip


def run_cell() -> dict:
    namespace: dict = {}
    exec(compile(CODE, "setup-cell", "exec"), namespace)
    return namespace


def test_installs_the_release_the_notebook_was_written_for(colab, capsys):
    run_cell()
    assert colab.calls == [[sys.executable, "-m", "pip", "install", "-q",
                            f"pneumolib[onnx] @ git+{REPOSITORY_URL}@v{__version__}"]]
    assert f"pneumolib {__version__} is ready" in capsys.readouterr().out


def test_a_local_copy_is_installed_instead(colab, monkeypatch, tmp_path):
    clone = tmp_path / "pneumolib"
    subprocess.check_call(["git", "clone", "-q", str(REPO), str(clone)])  # stands in for the repository
    monkeypatch.setenv("PNEUMOLIB_SOURCE", str(clone))
    run_cell()
    assert colab.calls[0][-2:] == ["-e", f"{clone}[onnx]"]
    monkeypatch.undo()  # the real pip: the clone must be installable as the cell asks
    dry = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation",
                          "-q", "--report", str(tmp_path / "report.json"), str(clone)], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [item["metadata"]["name"] for item in report["install"]] == ["pneumolib"]


def test_a_failed_install_stops_the_cell_with_what_to_do(colab):
    colab.returncode, colab.stderr = 1, "ERROR: Could not find a version that satisfies the requirement"
    with pytest.raises(RuntimeError, match="Could not find a version") as error:
        run_cell()
    assert "upload the repository" in str(error.value)


def test_an_install_that_does_not_import_stops_the_cell(colab, monkeypatch):
    monkeypatch.setitem(sys.modules, "pneumolib", None)  # `import pneumolib` raises ImportError
    with pytest.raises(RuntimeError, match="not installed"):
        run_cell()


def test_outside_colab_and_when_installed_nothing_is_installed(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    pip = FakePip()
    monkeypatch.setattr(subprocess, "run", pip)
    assert run_cell()["IN_COLAB"] is False
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    run_cell()  # in Colab, re-running after a good install: pneumolib is found, pip is not called
    assert pip.calls == []
