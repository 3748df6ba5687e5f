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
# # 01 · Getting the data
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/01_download.ipynb)
#
# The dataset is the pediatric chest X-ray set of
# Kermany et al. (2018), as released on Kaggle ("Chest X-Ray Images (Pneumonia)", CC BY 4.0): 5,856
# anterior-posterior films of children aged one to five from Guangzhou Women and Children's Medical
# Center, labelled NORMAL or PNEUMONIA (bacterial or viral).
#
# In this notebook you will find (or download) the data, count it, and look at a few films.
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
# ## What to expect on your runtime
#
# The slow step of this notebook and the next is reading every film once into a small uint8 cache
# (later notebooks reuse it). The table is computed from rates measured on each runtime
# (`scripts/measure_runtime.py`, stored with pneumolib); "not measured" means nobody has run it
# there yet, so no figure is given. The rates were measured on the films' sizes shown in the table:
# the full-resolution originals from Kaggle are many times larger and take longer to decode. The
# download itself (about 1.2 GB) depends on the network and is not in the table.

# %%
from pneumolib.notebook.runtime import expected_runtime
expected_runtime("01")

# %% [markdown]
# The environment variable `PNEUMO_PROFILE` picks the **profile**: `full` (the default: all
# images) or `quick` (a small subset, what the automated tests run). The code is the same either way.

# %%
from pneumolib.config import active_profile
from pneumolib.data.release.locate import find_dataset_root, list_release_files
from pneumolib.data import figures

profile = active_profile()
profile

# %% [markdown]
# ## Where is the data?
#
# `find_dataset_root` tries three ways, in order:
#
# 1. a folder you pass explicitly: `find_dataset_root("/path/to/chest_xray")`;
# 2. the environment variable `PNEUMO_DATA_DIR`;
# 3. a download with `kagglehub` (needs internet). This data set is public: kagglehub downloads it
#    without a Kaggle account. If you have one, kagglehub also reads the Colab secrets
#    `KAGGLE_USERNAME` and `KAGGLE_KEY` (or `~/.kaggle/kaggle.json`). The archive is about 1.2 GB of
#    full-resolution originals; kagglehub caches it for the rest of the runtime.
#
# **What the committed outputs were made on.** The outputs saved in these notebooks come from a
# copy of the same films re-encoded as 256-pixel grayscale JPEGs (the originals are far larger) and
# from a 2-core CPU without a GPU. In Colab you get the originals, so image sizes, file sizes and
# timings will differ from the saved outputs; the labels, the split and the counts do not. On a
# CPU-only runtime, set `PNEUMO_PROFILE=quick` before the imports (a few hundred films, minutes) or
# skip training and use the model bundled with pneumolib in notebooks 04-06.
#
# It also copes with the archive's quirks: the data sits in `chest_xray/` *and* again in a nested
# `chest_xray/chest_xray/`, and there are `__MACOSX` folders. If nothing works, the error lists the
# three ways.

# %%
root = find_dataset_root()
print(f"found the data set in a folder named {root.name!r}")  # the full path is yours: print(root) to see it

# %% [markdown]
# ## How many films per split and label?
#
# Notice two things: pneumonia films outnumber normal ones about **3 to 1**, and the official `val`
# split has only **16 images**, far too few to choose a model or a decision threshold on
# (one misclassified image moves its accuracy by 6 points). Notebook 02 builds a better split.

# %%
images = list_release_files(root)
images.groupby(["official_split", "label"]).size().unstack()

# %% [markdown]
# ## What do the films look like?
#
# Normal lungs look dark (air lets X-rays through); pneumonia shows as hazy white patches
# (consolidation). Notice also what is *not* about the lungs: text markers, the letter "R",
# different exposures, arms and tubes. A model can learn any of these, which is why notebook 05
# checks where it looks.

# %%
fig = figures.sample_grid(root, images, per_class=5)

# %% [markdown]
# **Next:** `02_eda_dedup` explores the data further, finds duplicate films and builds the
# patient-level split every later notebook uses.
