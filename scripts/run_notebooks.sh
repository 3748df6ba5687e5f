#!/usr/bin/env bash
# Execute notebooks in place in the FULL profile, so the committed copies show a real run's outputs.
# Usage: bash scripts/run_notebooks.sh [01_download 02_eda_dedup ...]   (default: all)
# Needs the data (PNEUMO_DATA_DIR) and, for 04-06, a model (notebook 03's or the bundled one).
# The percent-format .py beside each notebook is its source: it is synced into the .ipynb first.
set -euo pipefail
cd "$(dirname "$0")/../notebooks"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(01_download 02_eda_dedup 03_train 04_evaluate 05_gradcam 06_serve)
export PNEUMO_PROFILE=full PNEUMO_WORK_DIR="${PNEUMO_WORK_DIR:-pneumo_work}"
for name in "${names[@]}"; do
  ../.venv/bin/jupytext --sync "$name.py" -q
  echo "executing $name"
  ../.venv/bin/python - "$name.ipynb" <<'PY'
import sys

import nbformat
from nbclient import NotebookClient

path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
NotebookClient(notebook, timeout=7200, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
nbformat.write(notebook, path)
PY
  ../.venv/bin/python ../scripts/clean_notebook_outputs.py "$name.ipynb"  # progress bars: final line only
done
