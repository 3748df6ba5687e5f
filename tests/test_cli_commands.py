"""Every CLI command as a user starts it: ``python -m pneumolib <command>`` in a fresh process.

The README's main command (``python -m pneumolib serve``) once stopped at an import that only ran
inside the command's handler, while the suite built the app in-process and stayed green. Here each
command's real entry runs in a subprocess, the service answers over HTTP, and every import the
package makes inside a function is resolved.
"""

from __future__ import annotations

import ast
import base64
import importlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pneumolib.cli import build_parser

pytestmark = pytest.mark.slow

PACKAGE = Path(__file__).resolve().parents[1] / "pneumolib"
SAMPLE_FILM = PACKAGE / "samples" / "person100_bacteria_475.jpeg"
ONLY_IN_COLAB = ("google.colab",)  # imported only when running in Colab (its stub is tested in the notebook tests)


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pneumolib", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def _function_level_imports() -> list[tuple[str, int, str, str | None]]:
    """(file, line, module, name) for every import statement inside a function of the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                where = str(path.relative_to(PACKAGE.parent))
                if isinstance(node, ast.Import):
                    found += [(where, node.lineno, alias.name, None) for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:  # relative import: resolve against the module's package
                        parent = package.rsplit(".", node.level)[0] if path.name != "__init__.py" or node.level > 1 \
                            else package.removesuffix(".__init__")
                        base = f"{parent}.{base}" if base else parent
                    found += [(where, node.lineno, base, alias.name) for alias in node.names]
    return found


def _unresolved(imports: list[tuple[str, int, str, str | None]]) -> list[str]:
    broken = []
    for where, line, module, name in imports:
        if module.startswith(ONLY_IN_COLAB):
            continue
        try:
            imported = importlib.import_module(module)
            if name is not None and not hasattr(imported, name):
                importlib.import_module(f"{module}.{name}")  # a submodule imported by name
        except ImportError as error:
            broken.append(f"{where}:{line}: {module}{'.' + name if name else ''}: {error}")
    return broken


def test_every_import_made_inside_a_function_resolves():
    imports = _function_level_imports()
    assert len(imports) > 50  # the scan sees the package's lazy imports (workflows/ alone has dozens)
    assert ("pneumolib/workflows/service.py", "uvicorn") in {(where, module) for where, _, module, _ in imports}
    broken = _unresolved(imports)
    assert not broken, "\n".join(broken)


def test_the_import_check_catches_the_old_serve_import():
    """The line that broke ``serve``: a name its package never exported."""
    broken = _unresolved([("pneumolib/cli.py", 238, "pneumolib.serving", "ServiceSettings"),
                          ("pneumolib/cli.py", 238, "pneumolib.serving", "app")])
    assert len(broken) == 1 and "ServiceSettings" in broken[0]


def _commands() -> list[str]:
    subparsers = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(subparsers.choices)


@pytest.mark.parametrize("command", _commands())
def test_each_command_answers_help(command):
    result = _run(command, "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m pneumolib " + command)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``python -m pneumolib serve`` with the bundled model, as the README starts it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "PNEUMO_CHECKPOINT": ""}
    env.pop("PNEUMO_CHECKPOINT")  # the bundled model, whatever the caller's environment says
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pneumolib", "serve", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            pytest.fail(f"python -m pneumolib serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no /health answer within 180 s:\n{log.read_text()}")
        time.sleep(0.5)
    yield base, process, log
    if process.poll() is None:
        process.kill()


def _post_sample(base: str, **params: str) -> httpx.Response:
    with SAMPLE_FILM.open("rb") as film:
        return httpx.post(f"{base}/predict", params=params, timeout=120,
                          files={"file": (SAMPLE_FILM.name, film, "image/jpeg")})


def _check_prediction(answer: dict) -> None:
    assert answer["prediction"] in {"Pneumonia", "Normal"}
    assert 0.0 <= answer["probability"] <= 1.0 and 0.5 <= answer["confidence"] <= 1.0
    assert 0.0 < answer["threshold"] < 1.0 and answer["operating_point"] == "screening"
    called = "Pneumonia" if answer["probability"] >= answer["threshold"] else "Normal"
    assert answer["prediction"] == called
    assert answer["model"]["name"] and isinstance(answer["warnings"], list)


def test_serve_answers_health_and_predict_for_the_sample_film(served):
    base, _, _ = served
    health = httpx.get(f"{base}/health", timeout=10).json()
    assert health["status"] == "ok"
    plain = _post_sample(base)
    assert plain.status_code == 200, plain.text
    _check_prediction(plain.json())
    assert plain.json()["heatmap"] is None
    # the sample is a pneumonia film from the test split; the screening point catches it
    assert plain.json()["prediction"] == "Pneumonia"

    with_map = _post_sample(base, heatmap="true")
    assert with_map.status_code == 200, with_map.text
    answer = with_map.json()
    _check_prediction(answer)
    assert answer["probability"] == pytest.approx(plain.json()["probability"], abs=1e-6)
    from PIL import Image

    png = Image.open(io.BytesIO(base64.b64decode(answer["heatmap"])))
    assert png.format == "PNG" and min(png.size) > 100


def test_serve_refuses_a_bad_upload_with_json(served):
    base, _, _ = served
    answer = httpx.post(f"{base}/predict", files={"file": ("notes.txt", b"not an image", "text/plain")}, timeout=30)
    assert answer.status_code in {400, 415} and "detail" in answer.json()


def test_serve_stops_cleanly_on_ctrl_c(served):
    _, process, log = served
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, log.read_text()
    assert "not a diagnostic tool" in log.read_text()


def test_bundle_and_docs_free_commands_run(tmp_path):
    """``bundle`` and ``test-log`` on their own: seconds each, nothing written to the checkout."""
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT

    out = tmp_path / "again.pt"
    bundled = _run("bundle", str(BUNDLED_CHECKPOINT), "--out", str(out))
    assert bundled.returncode == 0, bundled.stderr
    assert out.is_file() and "MB" in bundled.stdout
    log = tmp_path / "looks.csv"
    listed = _run("test-log", env={"PNEUMO_TEST_LOG": str(log)})
    assert listed.returncode == 0, listed.stderr
    assert str(log) in listed.stdout


def test_clone_only_defaults_in_an_installed_package(monkeypatch, tmp_path, capsys):
    """No clone around the package: clone-only commands say what to do; outputs go to the work folder."""
    from pneumolib import config
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT
    from pneumolib.cli import main

    for name in ("PNEUMO_TEST_LOG", "PNEUMO_PROFILE", "PNEUMO_CHECKPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setattr(config, "REPOSITORY_ROOT", tmp_path / "site-packages")
    for argv in (["docs"], ["test-log", "--update-docs"], ["measure-gate"], ["evaluate", "--update-docs", "--offline"]):
        assert main(argv) == 2, argv
        assert "clone" in capsys.readouterr().err, argv
    assert not (tmp_path / "work" / "test_access_log.csv").exists()  # refused before any look at the test split
    assert main(["bundle", str(BUNDLED_CHECKPOINT)]) == 0
    assert (tmp_path / "work" / BUNDLED_CHECKPOINT.name).is_file() and "left as it is" in capsys.readouterr().out


def test_measure_gate_names_a_missing_non_xray_folder(tmp_path, capsys):
    from pneumolib.cli import main

    assert main(["measure-gate", "--non-xrays", str(tmp_path / "nowhere"), "--offline"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_the_pipeline_commands_run_on_the_fixtures(fixture_build, tmp_path):
    """manifest -> train -> select -> finalize -> evaluate -> measure-gate, each as its own process."""
    data = str(fixture_build.root)
    env = {"PNEUMO_WORK_DIR": str(tmp_path / "work"), "PNEUMO_TEST_LOG": str(tmp_path / "looks.csv"),
           "PNEUMO_PROFILE": "quick", "PNEUMO_ENGINE": "torch"}
    manifest = tmp_path / "manifest.csv"
    steps = [
        ("manifest", "--data", data, "--offline", "--out", str(manifest), "--workers", "1"),
        ("train", "--data", data, "--manifest", str(manifest), "--offline", "--out", str(tmp_path / "train"),
         "--epochs", "1", "--image-size", "48", "--batch-size", "8"),
        ("select", str(tmp_path / "train"), "--data", data, "--manifest", str(manifest), "--offline",
         "--no-lung-share", "--out", str(tmp_path / "selection.json"), "--chosen-out", str(tmp_path / "chosen.pt")),
        ("finalize", str(tmp_path / "chosen.pt"), str(tmp_path / "model.pt"), "--data", data,
         "--manifest", str(manifest), "--offline"),
        ("evaluate", str(tmp_path / "model.pt"), "--data", data, "--manifest", str(manifest), "--offline",
         "--out", str(tmp_path / "report.json"), "--why", "CLI smoke test"),
        ("measure-gate", "--checkpoint", str(tmp_path / "model.pt"), "--data", data, "--manifest", str(manifest),
         "--offline"),
    ]
    for step in steps:
        result = _run(*step, env=env, timeout=600)
        assert result.returncode == 0, f"{step[0]} failed:\n{result.stdout}\n{result.stderr}"
    assert (tmp_path / "report.json").is_file() and (tmp_path / "selection.json").is_file()
    looks = (tmp_path / "looks.csv").read_text()
    assert "CLI smoke test" in looks and "measure-gate" in looks
    shutil.rmtree(tmp_path / "work", ignore_errors=True)


def test_measure_gate_logs_the_bundled_models_look_with_the_project(monkeypatch, tmp_path):
    from pneumolib import config
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT
    from pneumolib.workflows.reporting import gate_look_log

    monkeypatch.delenv("PNEUMO_TEST_LOG", raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path / "work"))
    if config.checkout_root() is None:
        pytest.skip("needs a clone")
    assert gate_look_log(BUNDLED_CHECKPOINT) == config.checkout_root() / "docs" / "test_split_access.csv"
    work_log = config.work_dir() / "test_access_log.csv"  # inside tmp_path/work (quick runs: its quick/ folder)
    assert work_log.is_relative_to(tmp_path / "work")
    assert gate_look_log(tmp_path / "model.pt") == work_log
    monkeypatch.setattr(config, "REPOSITORY_ROOT", tmp_path / "site-packages")  # an installed package
    assert gate_look_log(BUNDLED_CHECKPOINT) == work_log
