# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Exploring the data, removing leaks, splitting by patient
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/02_eda_dedup.ipynb)
#
# A model is only as honest as its
# split. Here you will look at class balance, image sizes and patients, find duplicate films, and
# build the project's patient-level train / val / test split, written to a manifest that every
# later notebook reads.
#
# **What the committed outputs were made on:** a copy of the films re-encoded as 256-pixel
# grayscale JPEGs, on a 2-core CPU. In Colab you read the full-resolution originals, so image
# sizes, file sizes and timings below will differ from the saved outputs; the labels, the patients
# and the committed split do not. Where a figure was only ever checked on that copy, the notebook
# prints what it finds instead of asserting it.
#
# > **Not a diagnostic tool.** pneumolib is for learning and research. Its predictions must never be used to diagnose, treat or triage a patient.

# %%
# Set-up: in Colab, install the pneumolib this notebook was written for, then check that it
# imports. Safe to run again. On your own machine, `pip install -e .[onnx]` in a clone first.
import importlib, importlib.metadata, os, pathlib, subprocess, sys
WRITTEN_FOR = "0.1.0"  # the pneumolib version of this notebook's code and outputs
INSTALL_FROM = "git+https://github.com/pneumolib/pneumolib@main"  # the README's "Releases" says when this moves
IN_COLAB = "google.colab" in sys.modules
LOCAL_COPY = pathlib.Path("/content/pneumolib")  # a clone or upload of the repository, used instead
SOURCE = os.environ.get("PNEUMOLIB_SOURCE") or (str(LOCAL_COPY) if (LOCAL_COPY / "setup.py").is_file() else INSTALL_FROM)
def installed_version():
    try:
        return importlib.metadata.version("pneumolib")  # distribution metadata: a folder named pneumolib is not an install
    except importlib.metadata.PackageNotFoundError:
        return None
if IN_COLAB and installed_version() is None:
    local = pathlib.Path(SOURCE)
    target = (["-e", f"{local}[onnx]"] if local.is_dir() else [f"pneumolib[onnx] @ {local.resolve().as_uri()}"]
              if local.is_file() else [f"pneumolib[onnx] @ {SOURCE}"])  # a folder, a wheel, or a URL
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *target], capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"Installing pneumolib from {SOURCE} failed:\n{pip.stderr[-1500:]}\nCheck that this runtime "
                           "has internet (Runtime > Change runtime type), or put a copy of the repository at "
                           f"{LOCAL_COPY}: run `!git clone https://github.com/pneumolib/pneumolib {LOCAL_COPY}` in a "
                           "new cell (or upload it there), then run this cell again.")
    importlib.invalidate_caches()
try:
    import pneumolib
except ImportError:
    pneumolib = None
if installed_version() is None or getattr(pneumolib, "__file__", None) is None:
    raise RuntimeError("pneumolib is not installed" + (f" (a folder named pneumolib at {pneumolib.__path__[0]} is "
                       "not the package)" if pneumolib is not None else "") + ". In Colab run this cell again; "
                       "elsewhere run `pip install -e .[onnx]` in a clone of the repository.")
if pneumolib.__version__ != WRITTEN_FOR:
    print(f"Note: this notebook was written for pneumolib {WRITTEN_FOR}; {pneumolib.__version__} is installed.")
print(f"pneumolib {pneumolib.__version__} is ready")
# %matplotlib inline

# %% [markdown]
# The environment variable `PNEUMO_PROFILE` picks the **profile**: `full` (the default: all
# images) or `quick` (a small subset, what the automated tests run). The code is the same either way.
#
# In the quick profile only the first few files of each folder are scanned.

# %%
from pneumolib.config import active_profile, work_dir
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import build_manifest, load_manifest, write_manifest
from pneumolib.data.duplicates.groups import NEAR_DUPLICATE_MAX_DISTANCE
from pneumolib.data.split.leakage import leakage_checks, person_number_evidence, split_agreement, split_summary
from pneumolib.data import figures

profile = active_profile()
root = find_dataset_root()
build = build_manifest(root, max_per_folder=profile.max_images_per_split)
manifest = build.manifest
print(f"{len(manifest)} images, {manifest['patient_id'].nunique()} patients, {len(build.problems)} files left out")

# %% [markdown]
# `build_manifest` decoded every image once and recorded, per image: label, official split,
# patient id (parsed from the file name: `personN_bacteria` / `personN_virus` for pneumonia, see
# below; `IM-XXXX` / `NORMAL2-IM-XXXX` for normal), pneumonia subtype, size, three hashes and its duplicate group. A corrupt or non-image
# file would be listed in `build.problems` and left out with a warning, never silently dropped.

# %%
build.problems

# %% [markdown]
# ## Class balance
#
# About three pneumonia films for every normal one. A classifier that always says "pneumonia" is
# already 74 % accurate on the training data, so accuracy alone means little here; notebook 03
# counters the imbalance with class weights in the loss, and notebook 04 reports sensitivity and
# specificity separately.

# %%
fig = figures.class_balance(manifest, "official_split")

# %% [markdown]
# ## Image size and aspect ratio
#
# In this copy of the data many training films are stored as 224x224 copies (their source had
# already squashed them), so only *original-form* films keep their real shape. Among those,
# pneumonia films tend to be **wider** than normal ones. The ratio alone separates the classes far
# better than chance: a **shortcut** a network can pick up without looking at the lungs. Every
# image is squashed to the same square before the model sees it (notebook 03), and notebook 05
# checks the model's attention; keep the shortcut in mind when reading results.

# %%
fig = figures.size_and_aspect(manifest)

# %% [markdown]
# ## Films per patient
#
# Most children have one film, some have many. Films of the same child look alike, so if one
# child's films land in both training and validation, validation scores measure memory, not
# generalisation. Hence: **split by patient, not by image.**

# %%
fig = figures.images_per_patient(manifest)

# %% [markdown]
# ### Who is a patient? `personN` is not one child
#
# The release names pneumonia films `personN_bacteria_M.jpeg` and `personN_virus_M.jpeg`. If
# `personN` named one child, splitting on it would be the obvious choice. The counts below say it
# does not:
#
# * the image counter `M` is counted **per subtype**: the same numbers occur in both the bacterial
#   and the viral series;
# * a large share of person numbers carry films of **both** subtypes, implausible for the same
#   children in one hospital's pneumonia cohort;
# * of the person numbers found in both the official train and test splits, **none** shares a
#   subtype across that boundary: a child filmed twice would land on both sides within one subtype
#   at least sometimes.
#
# Conclusion: the person number is a counter kept per subtype folder, so `person7_bacteria` and
# `person7_virus` are two children. The patient id is therefore `personN_<subtype>`. This matters:
# keyed on `personN` alone, a few hundred training films would look like "children who are also
# in the test split" and be thrown away for nothing.

# %%
person_number_evidence(manifest)

# %% [markdown]
# ## Duplicates
#
# Two hashes per image find copies:
#
# * a **content hash** of the decoded pixels finds exact copies;
# * a **perceptual hash** (256-bit pHash) finds near copies: re-saved, re-scaled or re-exposed
#   versions of the same film. Near copies are pairs whose hashes differ in at most
#   `NEAR_DUPLICATE_MAX_DISTANCE` bits.
#
# How was the threshold chosen? By looking at the distances between *all* pairs of images: the
# same film saved twice lies 0-2 bits apart, and then nothing until about 38 bits, where different
# children begin. (The common 64-bit pHash is too coarse for radiographs: all films share one
# layout, so even a normal and a pneumonia film can be 2-4 bits apart.)

# %%
fig = figures.hash_distance_histogram(manifest, NEAR_DUPLICATE_MAX_DISTANCE)
print(f"threshold: {NEAR_DUPLICATE_MAX_DISTANCE} bits; duplicate pairs found: {len(build.duplicate_pairs)}")
build.duplicate_pairs["kind"].value_counts()

# %% [markdown]
# Here are the closest pairs side by side. Look at the names: most are two films of the same
# child under consecutive numbers, but some pairs carry **two different patient ids**. Those
# duplicate groups are joined into one unit for splitting, so a copy can never sit in train while
# its twin is in val or test.

# %%
fig = figures.duplicate_pairs_figure(root, build.duplicate_pairs, n=6)

# %% [markdown]
# ## The patient-level split
#
# The policy (see `pneumolib/data/split/policy.py`):
#
# * the official **test** split (624 films) stays the test split, untouched, used only for the final
#   report in notebook 04;
# * the 16-image official val split is folded back into training;
# * training films of a child who also has films in the test split (same patient id, or a duplicate
#   of a test film) would be **excluded**: the model never trains on a child it will be graded on.
#   With patients keyed as above, no child crosses that boundary in this release;
# * **val** takes about 10 % of the training pool, whole patients (and duplicate groups) at a time,
#   stratified by label, in an order drawn from a hash of the patient id;
# * the split reads only what every copy of the data shares: file names, the official split and
#   the duplicate groups. A copy from Kaggle (originals) and a re-encoded copy get the same split,
#   and `python -m pneumolib manifest` takes every known file's split from the committed
#   `data_manifest.csv`, reporting (never silently re-splitting) duplicate groups that differ.

# %%
split_summary(manifest)

# %%
fig = figures.class_balance(manifest, "split")

# %% [markdown]
# Every leakage check should find nothing. The cell says so, or names what failed; a failure here
# means the split lets a patient or a duplicate film sit on both sides (the test suite checks the
# committed split itself; this cell checks the one just built from *your* copy of the data):

# %%
checks = leakage_checks(manifest)
print("every leakage check passes" if checks["passes"].all() else
      f"LEAKAGE: {'; '.join(checks.loc[~checks['passes'], 'check'])}: do not train on this split as it is")
checks

# %% [markdown]
# ## Writing the manifest
#
# The repository ships the reference manifest, `data_manifest.csv`. The one built here is written
# to the work folder, and compared with the reference: with the full data, every image should get
# the same split (in the quick profile only a subset is scanned, so the split differs).

# %%
path = write_manifest(manifest, work_dir() / f"data_manifest_{profile.name}.csv")
print("wrote", path)
split_agreement(manifest, load_manifest())

# %% [markdown]
# ## Adding your own labelled films
#
# A research team may add its own labelled chest X-rays as further **sources**
# (`python -m pneumolib manifest --extra NAME=PATH --role NAME=ROLE`; roles `split`,
# `train-only`, `test-only`). The Kermany split never moves; every source's films are hashed
# and searched for duplicates together with Kermany's. Why that matters: public pneumonia
# collections often re-share Kermany films, resized, re-encoded and renamed. A re-shared copy of
# a *training* film inside an external test set would grade the model on a film it learnt from.
#
# To watch the search at work, the next cell writes such a source itself: copies of random
# Kermany films (resized to 50-90 %, saved as JPEG or PNG under new names), mixed with new films
# (mirrored and cropped, so they copy nothing), and adds it as an external test set (`test-only`).

# %%
import warnings

from pneumolib.data.sources.reshare import make_reshared_source, planted_copies_found
from pneumolib.data.sources.split import describe_cross_source
from pneumolib.data.sources.roots import ExtraSource, SourceRoots

copies = max(8, len(manifest) // 20)
demo = make_reshared_source(root, manifest, work_dir() / f"reshared_demo_{profile.name}", copies=copies, new=copies // 3)
with warnings.catch_warnings():  # the build's notes on files are kept in with_source.problems
    warnings.simplefilter("ignore")
    with_source = build_manifest(root, extras=[ExtraSource(demo.name, demo.folder, "test-only")],
                                 max_per_folder=profile.max_images_per_split)
print(describe_cross_source(with_source.cross_source))
print("notes:", *with_source.problems["problem"], sep="\n  ")
found = planted_copies_found(with_source.manifest, demo)
complete = found["found beside their original"] == found["copies planted"]
clean = found["new films matched to another film"] == 0
print(("every planted copy was found beside its original" if complete else "some planted copies were MISSED")
      + (" and no new film was matched to another" if clean else "; some new films were WRONGLY matched"))
found

# %% [markdown]
# What to notice: whether every planted copy was found and joined its original's duplicate group,
# and whether any new film was mistaken for a copy (the cell above says both; the test suite holds
# the search to it on the project's own data). Because this source may only be used
# for testing, a copy keeps its place only when its original is a *test* film (it lands in test,
# beside it); copies of training and validation films are **excluded**, each with a note saying
# why. With the role `split` they would follow their originals into train or val instead.
#
# A copy beside its original, as the search saw them:

# %%
roots = SourceRoots(root, {demo.name: demo.folder})
pairs = with_source.duplicate_pairs
fig = figures.duplicate_pairs_figure(roots, pairs[pairs["path_b"].str.startswith(demo.name + "/")], n=3)

# %% [markdown]
# With your own data, `python -m pneumolib manifest --extra ...` writes the manifest with a
# `source` column (and where each source lives beside it); training then uses every source's
# `train` films, and `python -m pneumolib evaluate` reports Kermany's test split as before and
# each other source's test films on their own.

# %% [markdown]
# **Next:** `03_train` fine-tunes an EfficientNet on the `train` split and chooses the model on
# `val`.
