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
# # 06 · Serving: the model behind a web page and an HTTP API
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/06_serve.ipynb)
#
# Put the trained model
# behind the same service a deployment would run (`uvicorn pneumolib.serving.asgi:app`): a web page where
# you drop an X-ray and see the call and the heatmap, and a JSON API (`POST /predict`) for programs.
# In Colab an **ngrok tunnel** gives the service a temporary public address, so the page opens in
# any browser.
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
# ## Which model?
#
# The service loads one finalized checkpoint (weights plus the temperature, operating points and
# not-an-X-ray check fitted on val and stress val). `find_checkpoint()` looks, in order, at
# `$PNEUMO_CHECKPOINT`, the model notebook 03 saved in the work folder, then the weights bundled
# with pneumolib; the cell says which one it found.

# %%
import base64, json
import requests
from IPython.display import Image, Markdown, display
from pneumolib.checkpoint import find_checkpoint
from pneumolib.samples import SAMPLE_FILM
from pneumolib.notebook.background import serve_in_background
from pneumolib.notebook.addresses import service_address
from pneumolib.notebook.access import describe_access, public_settings
from pneumolib.notebook.tunnel import open_tunnel

checkpoint, source = find_checkpoint()
print(f"model: {checkpoint.name} ({source})")

# %% [markdown]
# ## Who may use it
#
# The address the tunnel below prints is public: **without the two switches in this section,
# anyone who has the URL can send films and read the answers** until you stop the service.
# `public_settings()` always adds per-client limits (a client that floods the service gets
# HTTP 429 with `Retry-After` instead of taking every slot from the others) and turns on two
# locks when you have stored them as Colab secrets (key icon in the left bar, notebook access on):
#
# * `PNEUMO_TUNNEL_LOGIN`, as `user:password` (password of 8 or more characters): ngrok asks every
#   visitor for it before a request reaches this machine; the browser asks once per tab.
# * `PNEUMO_API_KEY` (16 or more characters, e.g. from `secrets.token_urlsafe(24)`): the service
#   itself asks for it on `/predict` and `/model` (header `X-API-Key`); the page asks once and keeps
#   it in memory only.
#
# Every response also tells browsers not to cache it, not to frame the page and to run only the
# service's own scripts, and the service logs only each upload's size, type, status and timing.

# %%
access = public_settings()
print(describe_access(access))

# %% [markdown]
# ## Start the server in the background
#
# `uvicorn.run` would block this notebook until the server stops, so the server runs in a
# **background thread** instead: the cell returns as soon as `/health` answers, and the notebook
# stays usable. The model is loaded once, at start-up, not per request. The server listens on
# loopback (`127.0.0.1`) only, on a free port: nothing outside this machine can reach it yet.

# %%
server = serve_in_background(checkpoint, settings=access.settings)
model = server.health["model"]
print(f"serving {model['name']} ({model['architecture']}, sha256 {model['sha256'][:12]}...) at {server.url}")

# %% [markdown]
# ## A public address (optional)
#
# With an ngrok token, `open_tunnel` opens an HTTPS tunnel to the server and prints its public URL.
# To get one: sign up at ngrok.com (free), copy your authtoken from
# <https://dashboard.ngrok.com/get-started/your-authtoken>, and store it **as a Colab secret** named
# `NGROK_AUTHTOKEN` (key icon in the left bar; switch on notebook access) or in the environment
# variable `NGROK_AUTHTOKEN`. Never paste a token into a notebook cell: notebooks get shared.
#
# Without a token (as in the automated tests), or if ngrok refuses it, the cell says so and the
# service stays private. In Colab the cell then prints **Colab's proxy address** for the page: only
# you, signed in to Colab in this browser, can open it. It never prints `127.0.0.1`: in Colab that
# address is the Colab machine's own loopback, and in your browser it would mean *your* computer.
#
# While the tunnel is open, whoever has the URL reaches the service, unless you stored a login
# or a key above. It is a demo either way: do not upload identifiable patient images, and stop
# the service when you are done (last cell).

# %%
tunnel = open_tunnel(server.port)
address = service_address(server.url, server.port, tunnel.public_url if tunnel else None)
print(address)
if address.browsable:
    display(Markdown(f"**Web page:** <{address.page}> · API documentation: <{address.docs}>"))

# %% [markdown]
# ## The web page
#
# Open the page, drop a chest X-ray on it (PNG, JPEG or DICOM) and it shows the call, the
# probability of pneumonia against the threshold of the operating point you pick, and the Grad-CAM
# heatmap with an opacity slider to compare it with the film underneath. Uploads that are not chest
# X-rays are refused with an explanation. The page uses only the API below, nothing from elsewhere.
#
# On ngrok's free plan a browser first sees an ngrok notice page: click *Visit Site* once.

# %% [markdown]
# ## Calling the API from Python
#
# `POST /predict` takes the image as a multipart form field named `file`; the query string picks the
# operating point and whether to draw the heatmap. Here the notebook calls its own server directly
# on loopback, with the sample film shipped with pneumolib (a child with bacterial pneumonia from
# the official **test** split, CC BY 4.0, Kermany et al. 2018), so this notebook needs no data download.

# %%
image_path = SAMPLE_FILM  # shipped with pneumolib: no data download needed
with open(image_path, "rb") as image_file:
    response = requests.post(f"{server.url}/predict", params={"heatmap": "true", "operating_point": "screening"},
                             files={"file": (image_path.name, image_file, "image/jpeg")},
                             headers=access.request_headers(), timeout=300)
answer = response.json()
if not response.ok:
    raise RuntimeError(f"HTTP {response.status_code}: {answer['detail']}")
shown = {**answer, "heatmap": f"<base64 PNG, {len(answer['heatmap'] or '')} characters>"}
if answer["regions"]:  # each zone's outline is a list of points: shorten it for printing
    shown["regions"] = {**answer["regions"], "zones": [{**zone, "outline": f"<{len(zone['outline'])} points>"}
                                                       for zone in answer["regions"]["zones"]]}
print(image_path.name)
print(json.dumps(shown, indent=2))

# %% [markdown]
# Read the answer: `probability` is the calibrated probability of pneumonia, and the call is
# `Pneumonia` when it reaches `threshold`, the threshold of the chosen `operating_point` (fixed on
# val and stress val, never on test). `confidence` is the probability of the class called. `gate` reports the
# not-an-X-ray check, `model` which weights answered (the sha256 tells two deployments apart), and
# `warnings` anything that makes this particular answer less trustworthy. `disclaimer` is always
# there: this is a teaching tool, not a diagnostic one.
#
# `heatmap` is a PNG, base64-encoded: the Grad-CAM map blended over the uploaded film at its own
# shape. Red marks the regions that pushed the model most towards its call; that is where the model
# looked, not a contour of the disease. `regions` comes with it: the six lung zones (notebook 05),
# each with how much P(pneumonia) drops when that zone is hidden, its share of the heatmap and its
# outline as fractions of the image's width and height, largest effect first, and one sentence
# that sums them up. The web page draws these outlines over the film.

# %%
display(Image(data=base64.b64decode(answer["heatmap"]), width=520))

# %% [markdown]
# ### Same film, other operating point; and an error
#
# Only the threshold changes between operating points; the probability stays the same. Errors come
# back as JSON too, with a `detail` sentence meant for a person: here, a text file instead of an image.

# %%
for point in ("screening", "balanced"):
    body = requests.post(f"{server.url}/predict", params={"operating_point": point}, headers=access.request_headers(),
                         files={"file": (image_path.name, image_path.read_bytes())}, timeout=300).json()
    print(f"{point:>9}: {body['prediction']:<9} probability {body['probability']:.3f}, threshold {body['threshold']:.3f}")

refused = requests.post(f"{server.url}/predict", files={"file": ("notes.txt", b"not an image", "text/plain")},
                        headers=access.request_headers(), timeout=60)
print(f"\nHTTP {refused.status_code}: {refused.json()['detail']}")

# %% [markdown]
# ## Calling it from anywhere: curl
#
# From a terminal (or any language with an HTTP client), point at the public URL when the tunnel is
# open (Colab's proxy address works only in your signed-in browser, not from curl). `-F file=@...`
# sends the file as the multipart field `file`; `-u` answers the tunnel's login and `-H` carries the
# service key, when you switched them on (the commands name them; they never print the secrets):

# %%
base_url = tunnel.public_url if tunnel else "https://<your-tunnel>.ngrok-free.app"
login = ' -u "$PNEUMO_TUNNEL_LOGIN"' if tunnel and tunnel.login_source else ""
key = ' -H "X-API-Key: $PNEUMO_API_KEY"' if access.api_key else ""
print(f'curl{login}{key} -F "file=@{image_path.name}" "{base_url}/predict?operating_point=balanced"')
print(f'curl{login}{key} "{base_url}/model"      # the model card: operating points, validation and test metrics')
print(f'curl{login} "{base_url}/health"     # 200 once the model is loaded')

# %% [markdown]
# ## The service stays up; stopping it is your step
#
# "Run all" ends here with the server (and the tunnel, if one opened) still running, so the page
# and the API above keep answering while you try them. When you are done, set `STOP_THE_SERVICE`
# to `True` and run this cell: it closes the tunnel first (the public URL stops working at once),
# then stops the server, which finishes the requests in flight and frees the port. Ending the
# Colab runtime stops both too.

# %%
STOP_THE_SERVICE = False  # True, then run this cell, when you are done
if STOP_THE_SERVICE:
    if tunnel is not None:
        tunnel.close()
    server.stop()
    print("server running:", server.running)
else:
    print(f"The service is still up ({'tunnel open' if tunnel else 'no tunnel'}).\n{address}\n"
          "To stop it: set STOP_THE_SERVICE = True in this cell and run it.")

# %% [markdown]
# **Where next:** the same service runs outside a notebook with `python -m pneumolib serve`
# (add `--host 0.0.0.0` to listen on every interface; `PNEUMO_CHECKPOINT` or `--checkpoint` chooses
# the model), or `bash scripts/run_main.sh` in a clone, which also sets up the environment. The model card (`GET /model`, and `MODEL_CARD.md`) says what the model was trained on and
# where it fails: read it before trusting any answer.
