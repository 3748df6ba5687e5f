"""Generated sections inside hand-written Markdown files.

The README and the model card quote the evaluation's numbers. Writing them by hand lets the
documents drift from the code; instead a section between

    <!-- results:NAME:start -->
    ...
    <!-- results:NAME:end -->

is regenerated from the report, and everything outside the markers is left untouched.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class MarkerError(ValueError):
    """Markers for a section are missing, duplicated or out of order."""


def section_markers(name: str) -> tuple[str, str]:
    """The start and end marker comments for section ``name``."""
    if not _NAME.match(name):
        raise ValueError(f"section name {name!r} may contain only letters, digits, '_', '.', '-'")
    return f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"


def _span(text: str, name: str) -> tuple[int, int]:
    """Index just after the start marker and index of the end marker."""
    start, end = section_markers(name)
    for marker in (start, end):
        found = text.count(marker)
        if found != 1:
            problem = "missing" if found == 0 else f"present {found} times"
            raise MarkerError(f"marker {marker!r} is {problem}")
    body_start = text.index(start) + len(start)
    body_end = text.index(end)
    if body_end < body_start:
        raise MarkerError(f"end marker of section {name!r} comes before its start marker")
    return body_start, body_end


def replace_marked_section(text: str, name: str, new_body: str) -> str:
    """``text`` with the body of section ``name`` replaced by ``new_body``.

    The markers stay, so the replacement can be repeated; doing it twice with the same
    body gives the same text. Raises :class:`MarkerError` if the markers are not there
    exactly once each and in order.
    """
    body_start, body_end = _span(text, name)
    body = new_body.strip("\n")
    middle = f"\n{body}\n" if body else "\n"
    return f"{text[:body_start]}{middle}{text[body_end:]}"


def read_marked_section(text: str, name: str) -> str:
    """The current body of section ``name`` (without the newlines next to the markers)."""
    body_start, body_end = _span(text, name)
    return text[body_start:body_end].strip("\n")


def update_marked_file(path: str | Path, name: str, new_body: str) -> bool:
    """Rewrite section ``name`` of the file at ``path``; return whether the file changed."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    new = replace_marked_section(old, name, new_body)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
