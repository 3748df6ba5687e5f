"""Patient ids and pneumonia subtypes parsed from the release's file names.

The Kermany release encodes the patient in the file name, and that is the only patient
information it has. Splitting by patient (not by image) needs it, because one child can have
several radiographs and they look far more alike than two children's do.

Pneumonia patients are keyed ``personN_bacteria`` / ``personN_virus``, not ``personN``: in the
release, image numbers are counted per subtype (874 image numbers occur under both subtypes),
979 of 1,674 person numbers carry both subtypes (implausible for the same children), and none of
the 170 person numbers found in both the official train and test splits shares a subtype across
them. The person number is most likely a counter kept per subtype folder, so ``person7_bacteria``
and ``person7_virus`` are two different children. (Notebook 02 shows these counts.)

Naming forms seen in the release:

* ``person1_bacteria_1.jpeg``, ``person1_virus_6.jpeg`` (and once ``person1_virus_6_1.jpeg``)
* ``IM-0115-0001.jpeg`` and ``IM-0115-0001-0002.jpeg``
* ``NORMAL2-IM-0381-0001.jpeg`` and ``NORMAL2-IM-0381-0001-0001.jpeg``
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PNEUMONIA = re.compile(r"^(person\d+)_(bacteria|virus)_\d+(?:_\d+)*\.jpe?g$", re.IGNORECASE)
_NORMAL = re.compile(r"^((?:NORMAL\d*-)?IM-\d+)(?:-\d+)+\.jpe?g$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedName:
    """What a file name tells: the patient and, for pneumonia, bacterial or viral."""

    patient_id: str
    subtype: str  # "bacteria", "virus", or "" for normal images
    person_number: str = ""  # ``personN`` for pneumonia names: shared by two subtypes, not a patient


class UnrecognisedFileName(ValueError):
    """A file name that follows none of the release's naming forms."""


def parse_file_name(name: str) -> ParsedName:
    """Parse a bare file name (no folders) into patient id and subtype.

    Raises :class:`UnrecognisedFileName` for names outside the release's forms, so a caller
    decides what to do with them instead of silently inventing a patient.
    """
    match = _PNEUMONIA.match(name)
    if match:
        person, subtype = match.group(1).lower(), match.group(2).lower()
        return ParsedName(patient_id=f"{person}_{subtype}", subtype=subtype, person_number=person)
    match = _NORMAL.match(name)
    if match:
        return ParsedName(patient_id=match.group(1).upper(), subtype="")
    raise UnrecognisedFileName(
        f"{name!r} does not follow the release's naming (personN_bacteria_M.jpeg, "
        "personN_virus_M.jpeg, IM-XXXX-YYYY.jpeg, NORMAL2-IM-XXXX-YYYY.jpeg)"
    )
