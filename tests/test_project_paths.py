"""One home for the repository's own files: declared once, listed in the README, named nowhere else in code."""

from __future__ import annotations

import ast
from pathlib import Path

from pneumolib import project_paths

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_generated_from_the_declarations():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- project_paths:start -->\n")[1].split("\n<!-- project_paths:end -->")[0]
    assert section == project_paths.markdown_table()


def test_every_declared_file_exists_in_the_clone():
    missing = [p.path.as_posix() for p in project_paths.PATHS if not (REPO / p.path).exists()]
    assert missing == []


def test_no_other_module_spells_a_project_path_as_a_string():
    """A path written out again (``"MODEL_CARD.md"``, ``Path("docs", "selection_record.json")``) is a second home."""
    names = {p.path.as_posix() for p in project_paths.PATHS} | {p.path.name for p in project_paths.PATHS}
    offenders = []
    for path in (REPO / "pneumolib").rglob("*.py"):
        if path.name == "project_paths.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert offenders == []
