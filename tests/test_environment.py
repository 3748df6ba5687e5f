"""One home for settings: every PNEUMO_* variable the code names is declared, and the README lists them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pneumolib import environment

REPO = Path(__file__).resolve().parents[1]


def package_sources() -> dict[str, str]:
    return {str(path.relative_to(REPO)): path.read_text(encoding="utf-8") for path in (REPO / "pneumolib").rglob("*.py")
            if path.name != "environment.py"}


def test_every_variable_named_in_the_package_is_declared():
    named = set()
    for text in package_sources().values():
        named |= set(re.findall(r"PNEUMO_[A-Z_]+[A-Z]", text))
    assert named - set(environment.VARIABLES) == set()


def test_every_declared_variable_is_read_somewhere():
    constants = {value: name for name, value in vars(environment).items() if isinstance(value, str)
                 and value in environment.VARIABLES}
    assert set(constants) == set(environment.VARIABLES)  # a constant for each
    code = "\n".join(package_sources().values())
    unread = [value for value, name in constants.items() if f"environment.{name}" not in code]
    assert unread == []


def test_only_the_environment_module_reads_pneumo_variables_from_os_environ():
    offenders = [str(path.relative_to(REPO)) for path in (REPO / "pneumolib").rglob("*.py")
                 if path.name != "environment.py"
                 and re.search(r"os\.environ(\.get)?\(?\[?[\"']PNEUMO_", path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_readme_table_is_generated_from_the_declarations():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- environment:start -->\n")[1].split("\n<!-- environment:end -->")[0]
    assert section == environment.markdown_table()


def test_read_strips_and_refuses_unknown_names():
    assert environment.read(environment.PROFILE, {"PNEUMO_PROFILE": "  quick \n"}) == "quick"
    assert environment.read(environment.PROFILE, {"PNEUMO_PROFILE": "   "}) is None
    with pytest.raises(KeyError, match="not one of"):
        environment.read("PNEUMO_TYPO", {})
