"""Notebook 01: getting the data."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from notebook_cells.common import PROFILE_MD, header

def cells() -> list:
    return header("01_download", "01 · Getting the data", """The dataset is the pediatric chest X-ray set of
Kermany et al. (2018), as released on Kaggle ("Chest X-Ray Images (Pneumonia)", CC BY 4.0): 5,856
anterior-posterior films of children aged one to five from Guangzhou Women and Children's Medical
Center, labelled NORMAL or PNEUMONIA (bacterial or viral).

In this notebook you will find (or download) the data, count it, and look at a few films.""") + [
        new_markdown_cell(PROFILE_MD),
        new_code_cell("""from pneumolib.config import active_profile
from pneumolib.data.locate import find_dataset_root, list_images
from pneumolib import eda

profile = active_profile()
profile"""),
        new_markdown_cell("""## Where is the data?

`find_dataset_root` tries three ways, in order:

1. a folder you pass explicitly: `find_dataset_root("/path/to/chest_xray")`;
2. the environment variable `PNEUMO_DATA_DIR`;
3. a download with `kagglehub` (needs internet and, for Kaggle, your API credentials in Colab's
   secrets or `~/.kaggle/kaggle.json`). The archive is about 1.2 GB; kagglehub caches it.

It also copes with the archive's quirks: the data sits in `chest_xray/` *and* again in a nested
`chest_xray/chest_xray/`, and there are `__MACOSX` folders. If nothing works, the error lists the
three ways."""),
        new_code_cell("""root = find_dataset_root()
print(f"found the data set in a folder named {root.name!r}")  # the full path is yours: print(root) to see it"""),
        new_markdown_cell("""## How many films per split and label?

Notice two things: pneumonia films outnumber normal ones about **3 to 1**, and the official `val`
split has only **16 images**, far too few to choose a model or a decision threshold on
(one misclassified image moves its accuracy by 6 points). Notebook 02 builds a better split."""),
        new_code_cell("""images = list_images(root)
images.groupby(["official_split", "label"]).size().unstack()"""),
        new_markdown_cell("""## What do the films look like?

Normal lungs look dark (air lets X-rays through); pneumonia shows as hazy white patches
(consolidation). Notice also what is *not* about the lungs: text markers, the letter "R",
different exposures, arms and tubes. A model can learn any of these, which is why notebook 05
checks where it looks."""),
        new_code_cell("""fig = eda.sample_grid(root, images, per_class=5)"""),
        new_markdown_cell("""**Next:** `02_eda_dedup` explores the data further, finds duplicate films and builds the
patient-level split every later notebook uses."""),
    ]
