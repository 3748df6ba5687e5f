"""The notebooks' set-up cell: installs what the notebook was written for in Colab and fails loudly."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import types
from pathlib import Path

import jupytext
import pytest

from pneumolib import __version__, install_source

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


class Distributions:
    """``importlib.metadata.version('pneumolib')`` answers as the test says (installed or not)."""

    def __init__(self, installed: bool) -> None:
        self.installed = installed
        self.real = importlib.metadata.version

    def __call__(self, name: str) -> str:
        if name == "pneumolib" and not self.installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return self.real(name)


@pytest.fixture
def colab(monkeypatch):
    """Pretend to be Colab, with pneumolib not yet installed; pip "installs" it."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("PNEUMOLIB_SOURCE", raising=False)
    distributions = Distributions(installed=False)
    monkeypatch.setattr(importlib.metadata, "version", distributions)
    pip = FakePip()

    def install(command, **kwargs):
        result = pip(command, **kwargs)
        distributions.installed = result.returncode == 0
        return result

    monkeypatch.setattr(subprocess, "run", install)
    pip.distributions = distributions
    return pip


def run_cell() -> dict:
    namespace: dict = {}
    exec(compile(CODE, "setup-cell", "exec"), namespace)
    return namespace


def test_installs_the_package_decision_and_the_version_it_was_written_for(colab, capsys):
    namespace = run_cell()
    assert colab.calls == [[sys.executable, "-m", "pip", "install", "-q", f"pneumolib[onnx] @ {install_source()}"]]
    assert namespace["WRITTEN_FOR"] == __version__
    out = capsys.readouterr().out
    assert f"pneumolib {__version__} is ready" in out and "Note:" not in out


def test_the_install_source_names_a_ref_that_holds_this_version():
    """``main`` between releases, else the release's own tag: never a tag for another version."""
    ref = install_source().rsplit("@", 1)[1]
    assert ref in {"main", f"v{__version__}"}


def test_a_wheel_named_by_pneumolib_source_is_installed_by_its_file_url(colab, monkeypatch, tmp_path):
    wheel = tmp_path / f"pneumolib-{__version__}-py3-none-any.whl"
    wheel.write_bytes(b"stands in for a wheel")
    monkeypatch.setenv("PNEUMOLIB_SOURCE", str(wheel))
    run_cell()
    assert colab.calls[0][-1] == f"pneumolib[onnx] @ {wheel.resolve().as_uri()}"


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
    assert "!git clone https://github.com/pneumolib/pneumolib /content/pneumolib" in str(error.value)


def test_a_folder_named_pneumolib_is_not_taken_for_the_package(colab, monkeypatch, tmp_path):
    """A folder on sys.path called pneumolib imports as a namespace package: not an install."""
    folder = tmp_path / "pneumolib"
    folder.mkdir()
    namespace = types.ModuleType("pneumolib")  # what `import pneumolib` gives for such a folder
    namespace.__path__ = [str(folder)]
    monkeypatch.setitem(sys.modules, "pneumolib", namespace)
    colab.returncode = 1  # not installed, so the cell installs; offline that fails with what to do
    with pytest.raises(RuntimeError, match="Installing pneumolib"):
        run_cell()
    colab.distributions.installed = True  # installed, but the folder still shadows the package
    with pytest.raises(RuntimeError, match=f"a folder named pneumolib at {folder} is not the package"):
        run_cell()


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


def test_a_version_other_than_the_notebooks_is_named(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    import pneumolib

    monkeypatch.setattr(pneumolib, "__version__", "9.9.9")
    run_cell()
    assert f"this notebook was written for pneumolib {__version__}; 9.9.9 is installed" in capsys.readouterr().out
