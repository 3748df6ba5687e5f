"""The split of extra sources' films, around the Kermany split that never moves.

Rules, in order (Kermany rows are never changed: their split is the project's reference):

1. *Units* are built over every source at once: all films of a patient, joined with every
   film that duplicates one of them (:func:`pneumolib.data.split.policy.split_units`). Public pneumonia
   collections often re-share Kermany films, re-encoded, resized and renamed; such a copy joins
   its Kermany original's unit.
2. A unit with Kermany films follows them: its extra films take the Kermany split (test before
   excluded before val before train, if the Kermany films of one unit were ever in several).
3. Other units are decided per unit: test when a member must be tested (a ``test-only`` source,
   or a ``split`` source's own ``test/`` folder), train when every member is ``train-only``,
   else drawn from the sha256 of the seed and the unit (:data:`EXTRA_VAL_FRACTION` to val and, for
   a ``split`` source without its own ``test/`` folder, :data:`EXTRA_TEST_FRACTION` to test).
4. A film whose source's role does not allow its unit's split is *excluded*, with a note: a
   ``test-only`` source's copy of a Kermany training film is kept out of the external test set
   (the model has seen it), a ``train-only`` source's copy of a test film out of training.

So a film and its copies always end in one split, and no film of a test unit is trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pandas as pd

from pneumolib.data.sources.roots import BASE_SOURCE
from pneumolib.data.split.policy import EXCLUDED, SPLIT_SEED, split_units

EXTRA_VAL_FRACTION = 0.10
EXTRA_TEST_FRACTION = 0.20
ALLOWED_SPLITS = {"train-only": {"train"}, "split": {"train", "val", "test"}, "test-only": {"test"}}
_PRIORITY = ("test", EXCLUDED, "val", "train")


def _draw(unit: str, seed: str) -> float:
    """A number in [0, 1) fixed by the seed and the unit: the same on every machine."""
    return int(hashlib.sha256(f"{seed}|extra|{unit}".encode()).hexdigest()[:12], 16) / 16**12


def _drawn_split(unit: str, test_fraction: float, seed: str) -> str:
    value = _draw(unit, seed)
    if value < test_fraction:
        return "test"
    return "val" if value < test_fraction + EXTRA_VAL_FRACTION else "train"


def assign_source_splits(manifest: pd.DataFrame, roles: Mapping[str, str], seed: str = SPLIT_SEED) -> pd.DataFrame:
    """``split`` and ``split_note`` for every row; Kermany rows keep the ones they have.

    Needs ``source``, ``official_split``, ``patient_id`` (namespaced by source), ``dup_group``
    (found across sources), ``split`` and ``split_note`` (filled for the Kermany rows).
    """
    units = split_units(manifest["patient_id"], manifest["dup_group"].fillna(""))
    split, note = manifest["split"].copy(), manifest["split_note"].copy()
    is_base = manifest["source"].eq(BASE_SOURCE)
    sources_with_test = set(manifest.loc[~is_base & manifest["official_split"].eq("test"), "source"])
    for unit, rows in manifest.groupby(units, sort=False):
        extra = rows[~rows["source"].eq(BASE_SOURCE)]
        if extra.empty:
            continue
        base = rows[rows["source"].eq(BASE_SOURCE)]
        if len(base):
            target = next(s for s in _PRIORITY if s in set(base["split"]))
            reason = f"duplicate of {BASE_SOURCE} film {base['path'].iloc[0]} ({target})"
        else:
            roles_here = {roles[s] for s in extra["source"]}
            must_test = "test-only" in roles_here or (extra["official_split"].eq("test")
                                                      & extra["source"].map(roles).eq("split")).any()
            if must_test:
                target = "test"
            elif roles_here == {"train-only"}:
                target = "train"
            else:
                draws_test = any(roles[s] == "split" and s not in sources_with_test for s in extra["source"])
                target = _drawn_split(str(unit), EXTRA_TEST_FRACTION if draws_test else 0.0, seed)
            reason = ""
        for index, source in zip(extra.index, extra["source"]):
            role = roles[source]
            if target != EXCLUDED and target in ALLOWED_SPLITS[role]:
                split[index], note[index] = target, reason
            else:
                split[index] = EXCLUDED
                note[index] = (f"{reason}; " if reason else "") + (
                    f"a {role} source cannot use a film whose unit is in {target}" if target != EXCLUDED
                    else "its unit shares a patient or duplicate with the test split")
    return pd.DataFrame({"split": split, "split_note": note})


def cross_source_duplicates(manifest: pd.DataFrame) -> pd.DataFrame:
    """Every extra film whose duplicate group holds a film of another source, and where it went.

    Columns: ``path``, ``source``, ``duplicate_of`` (a film of another source, Kermany first),
    ``duplicate_source``, ``duplicate_split``, ``split`` (of the extra film), ``split_note``.
    """
    rows = []
    grouped = manifest[manifest["dup_group"].ne("")].groupby("dup_group")
    for _, group in grouped:
        if group["source"].nunique() < 2:
            continue
        ordered = group.assign(_base=group["source"].ne(BASE_SOURCE)).sort_values(["_base", "path"])
        for _, film in ordered[ordered["source"].ne(BASE_SOURCE)].iterrows():
            other = ordered[ordered["source"].ne(film["source"])].iloc[0]
            rows.append((film["path"], film["source"], other["path"], other["source"], other["split"],
                         film["split"], film["split_note"]))
    return pd.DataFrame(rows, columns=["path", "source", "duplicate_of", "duplicate_source", "duplicate_split",
                                       "split", "split_note"])


def describe_cross_source(cross: pd.DataFrame) -> str:
    """One line per outcome: how many extra films duplicate a film of another source, and where they went."""
    if cross.empty:
        return "cross-source duplicates: none found"
    lines = [f"cross-source duplicates: {len(cross)} extra films duplicate a film of another source"]
    for (source, other, split), group in cross.groupby(["source", "duplicate_source", "split"]):
        lines.append(f"  {len(group)} of {source} duplicate {other} films -> {split}")
    return "\n".join(lines)
