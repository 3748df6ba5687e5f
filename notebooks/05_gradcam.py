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
# # 05 · Grad-CAM: where does the model look, and can we trust the heatmap?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/05_gradcam.ipynb)
#
# A
# heatmap over a radiograph looks like an explanation. This notebook draws Grad-CAM heatmaps for the
# test split, then puts them through two checks before believing them: does the heatmap depend on
# what the model learned (a **randomisation test**), and does it fall on the **lungs** or somewhere
# else (a side marker, the film's edges)? A heatmap can be honest and still show that the model
# uses the wrong evidence; that is exactly what it is for.
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
# images) or `quick` (a small subset, what the automated tests run). The code is the same either way. In the quick profile: the 160-film test subset at 96 px, where a
# heatmap has only 3x3 cells and the model trained for one epoch, so the pictures illustrate the
# method rather than describe the real model.

# %%
# %config InlineBackend.figure_formats = ["jpeg"]  # galleries of films: JPEG keeps the notebook small
from IPython.display import Markdown
from pneumolib.checkpoint import find_checkpoint
from pneumolib.config import active_profile, cache_dir, work_dir
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import manifest_for_data
from pneumolib.explain import figures
from pneumolib.explain.describe import describe_focus
from pneumolib.explain.occlusion import occlusion_fill_of
from pneumolib.explain.study import study_split
from pneumolib.explain.target_layers import target_layer_name
from pneumolib.inference import engine_for_checkpoint
from pneumolib.models.from_metadata import describe_architecture

profile = active_profile()
root = find_dataset_root()
checkpoint, source = find_checkpoint()
engine, model, metadata = engine_for_checkpoint(checkpoint)  # ONNX Runtime on a CPU, PyTorch on a GPU
print(f"model: {checkpoint.name} ({source}); inference engine: {engine.name}")
print(f"{describe_architecture(metadata)} at {metadata['image_size']} px; Grad-CAM layer: {target_layer_name(model)}")
fill = occlusion_fill_of(metadata)  # chosen on val by finalize (notebook 03)
print(f"occlusion fill: {fill} ({metadata.get('explanation', {}).get('chosen_on', 'the default: not chosen on val')})")

# %% [markdown]
# ## How Grad-CAM works
#
# The last convolutional stage of the network outputs a stack of **feature maps**: channels
# (1280 for one EfficientNet-Lite0), each a coarse grid over the film (the cell below prints both
# for the model loaded here: 7x7 cells for a plain EfficientNet at 224 px, 14x14 when the last
# stage keeps stride 16; an ensemble stacks its members' channels on the finer grid). The
# classifier averages each channel over the grid and weighs the averages into a score per class.
# Grad-CAM (Selvaraju et al. 2017) asks which cells pushed one class's score up:
#
# 1. take the gradient of that class's score with respect to the feature maps;
# 2. average it over the grid: one **weight per channel** (how much that channel matters for the class);
# 3. add up the feature maps with those weights and keep only the positive part (**ReLU**): cells
#    that speak *for* the class;
# 4. **upsample** the grid to the input size (bilinear) and scale it to [0, 1].
#
# For this classifier steps 1-2 need no backward pass: its head is an average over the grid followed
# by one linear layer, so the gradient is the same in every cell (the class's weight for that
# channel, divided by the number of cells), and step 2 just reads the head's weights. The whole map
# is then a few lines on the feature map of the ordinary prediction, shown here on the sample film
# shipped with pneumolib (the package does the same, and its tests check it equals the
# `pytorch-grad-cam` library's Grad-CAM):

# %%
import numpy as np
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.engine import to_model_input
from pneumolib.samples import SAMPLE_FILM

film = read_grayscale(SAMPLE_FILM)  # a child with bacterial pneumonia, from the official test split
image = canonical_image(film, metadata["image_size"], metadata["jpeg_quality"])  # what the model reads
features = engine.run(to_model_input(image[None]), ("feature_map",))["feature_map"][0]  # (channels, h, w)
weights = model.head.weight.detach().float().numpy()[1]   # the head's weight per channel for "pneumonia"
cam = np.maximum(np.tensordot(weights, features, axes=1), 0)  # weighted sum of the channels, then ReLU
cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-7)  # scaled to [0, 1] within this film
print(f"feature maps: {features.shape[0]} channels on a {features.shape[1]}x{features.shape[2]} grid; "
      f"each cell stands for {metadata['image_size'] // features.shape[1]} input pixels square")

# %% [markdown]
# Then the map is upsampled and stretched back onto the original film, undoing the squash the
# model's input went through. Three consequences to keep in mind: the map is **coarse** (the grid
# above, smoothed, not pixel detail); it is **per class** (the map for "pneumonia" and the one for
# "normal" differ); and it is scaled **per film** (red means "most, within this film", not "strongly").
#
# ## Where does the call rest? Six lung zones, hidden one at a time
#
# A heatmap shows where features the head weighs were strong; it does not prove the call depends on
# them. **Occlusion** asks the model: hide one region, score the film again, read the drop in
# P(pneumonia). Radiologists describe lungs by **zone**: each lung cut into upper, middle and lower
# thirds of its height, sides named as the patient's (the patient's right lung is on the image's
# left). pneumolib segments the lungs (or falls back to an anatomical prior where that fails), cuts
# six zones, hides each with the fill chosen on val (of the candidates, the one that moves the
# logit of films called normal least: it should remove evidence without adding any) and scores the
# six hidden copies (one batch on a GPU, one image per pass on a CPU). This is what the API
# returns as `regions` with the
# heatmap. A flat fill (grey, black, a blur) can itself look a little like an opacity to the model,
# since healthy lung has texture; the `reference` fill paints in the lung texture of a typical
# normal training film instead (`pneumolib.explain.reference_film`). The cell at the top printed
# which fill this model uses.

# %%
from pneumolib.explain.occlusion import zone_report
from pneumolib.explain.overlay import resize_heatmap
from pneumolib.explain.zone_figures import zone_figure
from pneumolib.explain.zones import lung_zones

zones = lung_zones(image)
square = resize_heatmap(cam, image.shape)
report = zone_report(engine, image / 255.0, zones, fill, float(metadata["temperature"]), square)
called = report.probability >= metadata["operating_points"]["screening"]["threshold"]
fig = zone_figure(image, square, zones, report, called)
fig

# %% [markdown]
# ## Explain the whole test split
#
# For every test film: the calibrated probability of pneumonia, the call at the `screening`
# operating point (the API's default, chosen on val and stress val in notebook 03), the outcome (TP, FP, FN, TN),
# the Grad-CAM map **of the class that was called** (what a user of the screening threshold would be
# shown), and how much of that map falls inside an approximate lung outline. Full profile: all 624
# test films (under a minute on a CPU).

# %%
from pneumolib.evaluation.test_access import record_test_access

study = study_split(model, metadata, manifest_for_data(root), "test", root,
                    max_images=profile.max_images_per_split, cache_dir=cache_dir(), engine=engine)
log = record_test_access(checkpoint, "notebook 05: Grad-CAM study of the test split", len(study))
print(f"{len(study)} test films, {study.operating_point} threshold {study.threshold:.3f} (look recorded in {log.name})")
study.table["outcome"].value_counts().reindex(["TP", "FP", "FN", "TN"], fill_value=0).to_frame("films")

# %% [markdown]
# ## Galleries: correct calls
#
# Randomly chosen films (not hand-picked). Each title gives the calibrated probability of pneumonia
# and the share of the heatmap's mass inside the **white lung outline**. For a true positive the map
# explains "pneumonia"; for a true negative it explains "normal", so it shows what made the model
# call the film normal.
#
# What to look for: does the red sit on the lung fields, where consolidation would be? Or on the
# "R" side marker, the corners, the shoulders, the neck, the abdomen, the film's border? Does it
# look similar across very different films? (Then it reflects the framing more than the chest.)

# %%
fig = figures.outcome_gallery(study, root, outcomes=["TP", "TN"], n=5)
fig

# %% [markdown]
# ## Galleries: mistakes
#
# False positives (normal films called pneumonia) and false negatives (pneumonia called normal). At
# the screening threshold false positives are by design far more common than false negatives. A
# panel marked `lungs n/a` has an **all-zero** map: nothing in the film raised the called class's
# score; such films are called pneumonia only because the screening threshold is low, and Grad-CAM
# has nothing positive to show.

# %%
fig = figures.outcome_gallery(study, root, outcomes=["FP", "FN"], n=5)
fig

# %% [markdown]
# ## Sanity check: does the heatmap depend on what the model learned?
#
# Adebayo et al. (2018, *Sanity Checks for Saliency Maps*) showed that some popular saliency methods
# give almost the same picture for a trained network and for the same network with **random
# weights**: they behave like edge detectors, and an edge detector can look convincing on a
# radiograph. A heatmap that does not change when the weights are randomised explains nothing about
# the model.
#
# The test: re-initialise every layer of a copy of the model, explain the same films (same class)
# with both, and compare the two maps with the **Spearman rank correlation** (rankings, because the
# maps' scale is arbitrary). Near 0: the map depends on the learned weights (the check passes). Near
# 1: it would look the same whatever the model had learned. Look at the per-film values as well as
# the mean: a mean near 0 can hide films at +0.4 and others at -0.4, and a single film's map that
# stays close to its randomised twin deserves a look. Passing says the map *reflects the model*; it
# does not say the model looks at the right thing: that is the next sections' question.
# (With the quick profile's 3x3 maps a correlation over so few cells swings widely from film to
# film.)

# %%
check = study.randomisation(model, n=8)
fig = figures.randomisation_figure(check, root)
rho = check.rho[~np.isnan(check.rho)]
print(f"Spearman rho, trained vs randomised model, over {len(check.paths)} films: mean {check.mean:.2f}, "
      f"per film from {rho.min():.2f} to {rho.max():.2f}" if rho.size else "no film had two non-constant maps")
fig

# %%
check.table().round(3)

# %% [markdown]
# ## Does the heatmap fall on the lungs?
#
# Pneumonia is in the lungs, so evidence for it should be too. The **lung-focus share** is the
# fraction of a map's mass inside the lung outline. It is a *mass* share: a map spread evenly over
# the film would score the outline's area fraction (roughly 0.2-0.35 on these films), not 0.5, so
# the reference is the dotted line (left) and the diagonal (right), not one half. The column
# `mean corner share (uniform 0.25)` of the table below does the same for the **four corner squares**
# (a quarter of the film, where the "R"/"L" side markers and the film's edges are): a uniform map
# puts 25 % of its mass there. Read the rows of films **called pneumonia** (TP, FP) first: those
# maps are the ones that should point at consolidation.
#
# **How the lung outline is made** (`pneumolib.explain.lung_mask`): no lung-segmentation model can be
# downloaded offline, so it is classical image processing: contrast normalisation, a dark-pixel
# threshold inside the thorax, the largest dark region on each side within an anatomical search
# zone, and its convex hull (so a consolidated, white part of a lung still counts as lung). A side
# where that fails falls back to a fixed ellipse where a lung sits on a centred film
# (`lung_sources` in the tables says which). **Limits:** the hull overshoots towards the heart and
# the hilum; a whited-out lung gets the ellipse, which is wrong on rotated, off-centre or widely
# framed films; bowel gas can be mistaken for a small lung. It was checked by eye on a few dozen
# films, not against annotated masks. It is good enough to tell "on the lungs" from "on a marker in
# the corner", not to measure anything finer.

# %%
fig = figures.lung_focus_figure(study)
fig

# %%
shares = study.table[["inside_share", "mask_fraction"]].mean()
print(f"mean lung-focus share over the {len(study)} test films: {shares['inside_share']:.3f} "
      f"(a uniform map: {shares['mask_fraction']:.3f})")
study.summary().round(3)

# %% [markdown]
# ### What the numbers say
#
# Generated from the numbers above, so it says what this model does, whichever way that goes:

# %%
Markdown(describe_focus(study))

# %% [markdown]
# ## Is the map what the model used? Deletion, laterality, zones
#
# Three measures on the films called pneumonia (`pneumolib.explain.faithfulness`), each hiding pixels
# with the same val-chosen fill:
#
# * **Deletion:** hide the hottest pixels of the map (5 % to 50 % of the lung area) and compare the
#   drop in P(pneumonia) with hiding random smooth blobs of the lungs of the same area. A map that
#   marks what the call rests on gives the larger drop (solid line above dashed).
# * **Laterality:** is the lung holding more heat the lung whose occlusion lowers P(pneumonia) more?
#   Its baseline is not a coin toss: hiding the larger lung tends to lower P(pneumonia) more, so a
#   uniform map, whose hotter lung is simply the larger one, already agrees often.
# * **Zones:** which of the six zones carries the call, by group: bacterial and viral pneumonia, and
#   normal films called pneumonia (false positives).
#
# What to look for: the solid curve well above the dashed one; laterality well above the uniform map's;
# bacterial pneumonia (often lobar, one zone) concentrated on fewer zones than viral (often
# diffuse, both sides).

# %%
from pneumolib.explain.describe import describe_faithfulness
from pneumolib.explain.faithfulness import faithfulness_of_study
from pneumolib.explain.zone_figures import deletion_figure, top_zone_figure

manifest = manifest_for_data(root)
subtypes = dict(zip(manifest["path"], manifest["subtype"].fillna("")))
faith = faithfulness_of_study(engine, study, subtypes, fill)
fig = deletion_figure({checkpoint.stem: faith})
fig

# %%
fig = top_zone_figure(faith)
fig

# %%
Markdown(describe_faithfulness(faith))

# %% [markdown]
# ## The films whose heatmap falls mostly outside the lungs
#
# Every film with less than half its heatmap mass inside the lung outline, worst first (the full list
# is saved as a CSV in the work folder), and the worst few drawn. Because the lungs cover only a
# quarter or so of a film, even an evenly spread map would be on this list: the telling cases are
# those far below their own `mask_fraction`, and where the mass went instead. Open some of them: is
# it on a marker, a corner, the shoulders, the abdomen? Or did the outline miss the lung (look at
# `lung_sources` and at the white contour)? Both happen; only looking tells them apart.

# %%
outside = study.mostly_outside()
(work_dir() / "gradcam").mkdir(exist_ok=True)
outside.to_csv(work_dir() / "gradcam" / f"mostly_outside_{profile.name}.csv", index=False)
print(f"{len(outside)} of {len(study)} films have most of their heatmap mass outside the lungs")
columns = ["path", "outcome", "prob", "inside_share", "mask_fraction", "corner_share", "lung_sources"]
outside[columns].head(20).round(3)

# %%
fig = figures.outside_gallery(study, root, n=6)
fig

# %% [markdown]
# ## How to read a heatmap, and what it cannot tell you
#
# * **It is not a lesion segmentation.** Grad-CAM shows which regions raised the score of one class
#   in this model, not where the pneumonia is. Nobody trained it on outlines of consolidation, and
#   a red blob on a lung is not a finding.
# * **It is coarse.** The grid printed above, smoothed: it can point to a zone of a lung, never to a
#   structure in it. Fine detail in the overlay comes from the film, not the map.
# * **It is relative.** Each map is scaled to [0, 1] on its own: a red area on a film called normal
#   at probability 0.02 is as red as one on a film called pneumonia at 0.99.
# * **It shows what the model used, which may be a shortcut.** In this data set the films come from
#   one hospital's archive with its own side markers, framing and exposure, which differ between
#   normal and pneumonia films, and a network will use any cue that separates the classes. An
#   earlier check of this project's model found its pneumonia heatmaps often sitting on the "R" side
#   marker and the film's corners rather than on the lung fields. The figures above measure that
#   for the model loaded here; if the maps are mostly off the lungs, the honest reading is that the
#   model's accuracy partly rests on cues that will not carry over to another hospital, and the
#   evaluation of notebook 04 overstates how it would do there.
# * **It is one method's view.** The randomisation check says the maps depend on the weights, and the
#   deletion and laterality figures say how far they match what the model uses; they do not
#   guarantee the map captures everything. Where map and occlusion disagree, trust the occlusion:
#   it is the model's own answer to "what if this zone were not there?".
# * **Zones are approximate.** They come from a classical lung outline or, where that fails, an
#   ellipse where lungs usually lie (`mask_source`); on a rotated or widely framed film a zone can
#   miss its lung.
# * **It does not make a prediction trustworthy.** A plausible-looking map on a wrong prediction is
#   still a wrong prediction, and a plausible map on a right one does not prove the reasoning was
#   sound.
#
# > Not a diagnostic tool: never use these heatmaps to locate disease in a patient.

# %% [markdown]
# **Next:** `06_serve` runs the model (and these heatmaps) behind a web API.
