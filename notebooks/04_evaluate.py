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
# # 04 · Evaluation: how good is it, how sure are we, what does it get wrong?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/04_evaluate.ipynb)
#
# Here the
# official **test split** (624 films of children the model never saw) is scored and reported; it
# only measures: every threshold and the calibration come from val and stress val (notebook 03).
# Notebooks 05 and 06 use test films too, to explain and to demonstrate, never to tune.
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
# ## Keep the work across runtimes (Colab)
#
# A Colab runtime forgets its disk when it ends. With `USE_DRIVE = True` this cell mounts Google
# Drive (Colab asks for permission once) and keeps checkpoints and reports in `MyDrive/pneumolib`,
# where notebooks 03-06 find each other's results; the large image caches stay on the runtime's
# own disk. Outside Colab, and in automated test runs, nothing is mounted.

# %%
from pneumolib.notebook.colab import mount_drive
USE_DRIVE = True  # False: keep everything on this runtime's disk (lost when it ends)
print(mount_drive(USE_DRIVE))

# %% [markdown]
# The environment variable `PNEUMO_PROFILE` picks the **profile**: `full` (the default: all
# images) or `quick` (a small subset, what the automated tests run). The code is the same either way. In the quick profile: 160 images per split and 200 bootstrap resamples.

# %%
from IPython.display import Markdown
from pneumolib.checkpoint import find_checkpoint
from pneumolib.config import active_profile, cache_dir, work_dir
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import manifest_for_data
from pneumolib.evaluation import figures
from pneumolib.reporting.markdown import render_comparison_table, render_model_card_results
from pneumolib.evaluation.report import write_report
from pneumolib.evaluation.run import evaluate_checkpoint, operating_point_thresholds, val_test_gap

profile = active_profile()
root = find_dataset_root()
checkpoint, source = find_checkpoint()
print(f"model: {checkpoint.name} ({source})")

# %% [markdown]
# ## Which model is this?
#
# A checkpoint carries what it is. The bundled model can be one network or an **ensemble**: several
# networks trained separately whose logits are averaged (`python -m pneumolib ensemble`); it was
# chosen over a single network by the same rule as notebook 03's epochs, on val and stress val.
# For an ensemble, the table lists each member and how it was trained; each member adds one
# forward pass to every prediction, which is the price of its steadier calls.

# %%
from pneumolib.checkpoint import read_checkpoint
from pneumolib.deploy.ensemble import members_table
from pneumolib.models.from_metadata import describe_architecture

stored = read_checkpoint(checkpoint)["metadata"]
print(describe_architecture(stored))
members_table(stored)

# %% [markdown]
# ## Score val and test, build the report
#
# One function computes every number below (and the README's and model card's results sections,
# so those never drift from the code): it takes the temperature and the operating points the
# checkpoint was finalised with (on val and stress val, notebook 03), then computes test metrics with **95 % confidence intervals from a bootstrap that resamples patients**, not
# images (films of one child are not independent; resampling images would make the intervals too
# narrow).
#
# Every look at the test split is written to an access log (date, the checkpoint's sha256, why):
# a test split looked at again and again while models change quietly becomes a second val split.
# The project's own log, with every look made for the shipped model, is listed in the model card.

# %%
evaluation = evaluate_checkpoint(checkpoint, manifest_for_data(root), root, n_resamples=profile.bootstrap_resamples,
                                 max_images=profile.max_images_per_split, cache_dir=cache_dir(),
                                 purpose="notebook 04: evaluation report")
report, val, test = evaluation.report, evaluation.predictions["val"], evaluation.predictions["test"]
write_report(report, work_dir() / "evaluation" / f"report_{profile.name}.json")
thresholds = operating_point_thresholds(report)
Markdown(render_model_card_results(report, include_comparison=False))  # the comparison comes at the end

# %% [markdown]
# ## Operating points
#
# A classifier outputs a probability; a **threshold** turns it into a decision, and where you put
# it trades sensitivity against specificity. Two are offered, both chosen on val and stress val
# (the val films clean and under fixed shifts):
#
# * **screening** (the API's default): the highest threshold that still catches >= 99 % of the
#   pneumonia films, clean and shifted. Missing a pneumonia costs more than a second look at a normal film.
# * **balanced**: maximises Youden's J = sensitivity + specificity - 1.
#
# On the curves below, see where each sits. The precision-recall curve matters because pneumonia
# is the majority class here; in a clinic with fewer pneumonia cases, precision would be lower.

# %%
fig = figures.plot_roc(test["label"], test["prob_calibrated"], thresholds)
fig

# %%
fig = figures.plot_precision_recall(test["label"], test["prob_calibrated"], thresholds)
fig

# %%
fig = figures.plot_confusion_matrices(test["label"], test["prob_calibrated"], thresholds)
fig

# %% [markdown]
# ## Does the threshold transfer from val to test?
#
# The ranking (AUC) can be excellent while a threshold still moves: if test normals score higher
# than val normals, a threshold chosen on val gives fewer true negatives on test. Compare the two
# columns for each operating point. The val columns here are **clean val** (the 525 val films as
# they are); notebook 03's operating-point table gives the same thresholds on the pooled clean +
# stress val films they were chosen on, so its figures differ. This gap is the most important
# caveat of this model: val is drawn from the training hospital's distribution, the official test
# split behaves differently.

# %%
val_test_gap(report).round(3)

# %% [markdown]
# ## Calibration
#
# A calibrated model's "80 %" is right about 80 % of the time. The reliability diagram plots
# confidence against accuracy per bin (the diagonal is perfect); ECE is the average gap. Temperature
# scaling (one number, fitted on val and stress val) softens or sharpens all probabilities without
# changing their order, so AUC is unchanged. Whether it helps on test is not a given: compare the
# two panels and the ECE before and after in the table above.

# %%
fig = figures.plot_reliability(test["label"], test["prob"], test["prob_calibrated"])
fig

# %% [markdown]
# ## What does it get wrong?
#
# The most confident mistakes at the screening threshold: false negatives (pneumonia called normal)
# and false positives. Look for patterns: faint or atypical consolidation, unusual exposure,
# rotated patients, devices, text on the film.

# %%
fig = figures.plot_error_gallery(test, thresholds["screening"], lambda path: read_grayscale(root / path),
                              prob_column="prob_calibrated", n=5)
fig

# %% [markdown]
# ## Compared with published numbers
#
# "Original project" is the notebook pneumolib grew out of, on the same data set and official test
# split; it reported about 85 % accuracy and AUC 0.92 (figures as it reported them). Kermany et al.
# (2018) reported
# 92.8 % accuracy, 93.2 % sensitivity, 90.1 % specificity and AUC 0.968 on the same test split.
# Our numbers carry their confidence intervals; theirs were reported without. Note that a
# comparison across papers is loose: thresholds, preprocessing and which training images were used
# differ.

# %%
Markdown(render_comparison_table(report))

# %% [markdown]
# **Next:** `05_gradcam` shows *where* in the film the model looks.
