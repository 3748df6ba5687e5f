#!/usr/bin/env bash
# Run the six notebooks the way a learner's Colab runtime does: pneumolib installed by each
# notebook's own set-up cell from a built wheel (not editable, not the checkout), in a fresh
# virtual environment outside the checkout, with only the .ipynb files in an empty folder, a
# stand-in for google.colab (Drive accepted, then declined; no secrets, then an ngrok token that
# cannot be used offline; the kernel proxy), the data folder named by PNEUMO_DATA_DIR, and the
# quick profile. Exits non-zero when any cell fails.
#
#   bash scripts/run_notebooks_as_colab.sh            # uses PNEUMO_DATA_DIR, else the fixtures
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOUT="$(pwd)"
DATA="${PNEUMO_DATA_DIR:-$CHECKOUT/tests/fixtures/chest_xray}"
RUNTIME="$(mktemp -d)"  # stands in for the Colab machine: nothing of the checkout but what is copied below
CONTENT_CREATED=""
cleanup() {
  rm -rf "$RUNTIME"
  if [ -n "$CONTENT_CREATED" ]; then rm -rf /content; fi
}
trap cleanup EXIT

echo "== build the wheel a release would publish (from the project's files only: no stale build output)"
mkdir -p "$RUNTIME/src"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null \
  | tar -xf - -C "$RUNTIME/src"
python3 -m venv "$RUNTIME/build-venv"
"$RUNTIME/build-venv/bin/python" -m pip install -q --upgrade pip setuptools wheel 2>&1 | grep -v "^WARNING: Location" || true
"$RUNTIME/build-venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$RUNTIME/dist" "$RUNTIME/src" \
  2>&1 | grep -v "^WARNING: Location" || true
WHEEL="$(ls "$RUNTIME"/dist/pneumolib-*.whl)"
echo "wheel: $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"

echo "== a fresh runtime: the dependencies Colab would have or install, not pneumolib"
python3 -m venv "$RUNTIME/venv"
PY="$RUNTIME/venv/bin/python"
"$PY" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
grep -v -E "^(playwright|greenlet)==" requirements.txt > "$RUNTIME/requirements.txt"
"$PY" -m pip install -q -r "$RUNTIME/requirements.txt" 2>&1 | grep -v "^WARNING: Location" || true
if (cd "$RUNTIME" && "$PY" -c "import importlib.metadata as m; m.version('pneumolib')" 2>/dev/null); then
  echo "pneumolib is already installed in the fresh runtime: the set-up cells would not be tested" >&2; exit 1
fi

echo "== only the notebooks, in an empty folder"
mkdir -p "$RUNTIME/content"
cp notebooks/*.ipynb "$RUNTIME/content/"
ls "$RUNTIME/content"

# The stand-in for google.colab is imported at kernel start-up, as Colab's own is.
mkdir -p "$RUNTIME/ipython/profile_default/startup"
echo "import google.colab" > "$RUNTIME/ipython/profile_default/startup/00-colab.py"
if [ ! -e /content ]; then CONTENT_CREATED=1; fi  # Drive mounts at /content/drive, as in Colab

run() {  # run(drive, secrets, notebooks...)
  local drive="$1" secrets="$2"; shift 2
  echo "== notebooks $* : Drive access: ${drive}, secrets: ${secrets:-none}"
  (cd "$RUNTIME/content" && env -u CI -u PNEUMO_WORK_DIR -u PNEUMO_CACHE_DIR -u PNEUMO_CHECKPOINT \
    -u PNEUMO_TEST_LOG -u NGROK_AUTHTOKEN -u PNEUMO_API_KEY -u PNEUMO_TUNNEL_LOGIN -u VIRTUAL_ENV \
    PATH="$RUNTIME/venv/bin:$PATH" PYTHONPATH="$CHECKOUT/tests/colab_stub" IPYTHONDIR="$RUNTIME/ipython" \
    HOME="$RUNTIME/home" PNEUMOLIB_SOURCE="$WHEEL" PNEUMO_DATA_DIR="$DATA" PNEUMO_PROFILE=quick MPLBACKEND=Agg \
    PNEUMO_ONNX_CACHE="$RUNTIME/onnx" COLAB_STUB_DRIVE="$drive" COLAB_STUB_SECRETS="$secrets" \
    "$PY" -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env -q "$@")
}
mkdir -p "$RUNTIME/home"
run accept "" 01_download.ipynb 02_eda_dedup.ipynb 03_train.ipynb
# a new runtime for 04-06: nothing mounted, and the learner declines this time
if [ -n "$CONTENT_CREATED" ]; then rm -rf /content/drive; fi
# 06 then serves behind a key and asks ngrok for a login (the token cannot work offline)
run decline "NGROK_AUTHTOKEN=not-a-real-token,PNEUMO_API_KEY=colab-run-key-0123456789,PNEUMO_TUNNEL_LOGIN=learner:a-long-password" \
  04_evaluate.ipynb 05_gradcam.ipynb 06_serve.ipynb

echo "== what a learner's Run all of 06 prints at its end (executed again, outputs kept)"
(cd "$RUNTIME/content" && env -u CI -u PNEUMO_WORK_DIR -u PNEUMO_CHECKPOINT -u VIRTUAL_ENV \
  PATH="$RUNTIME/venv/bin:$PATH" PYTHONPATH="$CHECKOUT/tests/colab_stub" IPYTHONDIR="$RUNTIME/ipython" \
  HOME="$RUNTIME/home" PNEUMOLIB_SOURCE="$WHEEL" PNEUMO_DATA_DIR="$DATA" PNEUMO_PROFILE=quick MPLBACKEND=Agg \
  PNEUMO_ONNX_CACHE="$RUNTIME/onnx" COLAB_STUB_DRIVE=decline "$PY" - <<'EOF'
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read("06_serve.ipynb", as_version=4)
NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
last = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
print("".join(output.get("text", "") for output in last.outputs))
EOF
)
echo "notebooks ran from the installed wheel, outside the checkout"
