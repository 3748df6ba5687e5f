"""The FastAPI application: routes, startup, and the path of one upload through the service.

The checkpoint is loaded once, at startup (lifespan), never at import, so importing the app is
cheap and a missing or unfinished checkpoint shows up as a clear 503 from ``/health`` instead of
a crash. Decoding and inference are CPU-bound: they run in the thread pool, at most
``max_concurrency`` at a time, so the event loop keeps answering ``/health`` while the model
works and a burst of uploads queues instead of exhausting memory. The cores are shared out
among those concurrent inferences (``torch.set_num_threads``) rather than oversubscribed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import torch
from fastapi import FastAPI, File, Query, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from threadpoolctl import threadpool_limits

from pneumolib import __version__
from pneumolib import checkpoint as checkpoints
from pneumolib.decode.errors import ImageFileError
from pneumolib.decode.image import decode_image
from pneumolib.serving.access import ApiKeyRequired
from pneumolib.serving.fairness import ClientLimiter, ClientLimits
from pneumolib.serving.handlers import install_error_handlers
from pneumolib.serving.model_info import build_model_info
from pneumolib.serving.predictor import OVERRIDE_FLAG, Predictor
from pneumolib.serving.schemas import DISCLAIMER, ErrorBody, OperatingPointName, PredictionResponse, prediction_response
from pneumolib.serving.security import SecurityHeaders
from pneumolib.serving.settings import ServiceSettings
from pneumolib.serving.slots import InferenceSlots, LentSlot
from pneumolib.serving.uploads import MULTIPART_OVERHEAD, BodySizeLimit, read_upload, too_large_detail

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 413, 415, 422, 429, 500, 503)}
requests_log = logging.getLogger("pneumolib.requests")


@dataclass
class ServiceState:
    """What the lifespan sets up: the predictor, or why there is none."""

    settings: ServiceSettings
    predictor: Predictor | None = None
    checkpoint_source: str = ""
    model_info: dict[str, Any] = field(default_factory=dict)
    error: str | None = "The model is still loading."
    slots: InferenceSlots | None = None


def create_app(checkpoint: str | os.PathLike | None = None, settings: ServiceSettings | None = None,
               load_in_background: bool = False) -> FastAPI:
    """A new app; ``checkpoint`` overrides :func:`~pneumolib.checkpoint.find_checkpoint`'s search.

    ``load_in_background`` (the ``serve`` command): the server accepts connections at once and
    loads the model beside them, so ``/health`` answers from the first second ("still loading",
    503 with Retry-After) on a slow or busy machine, instead of staying silent until the model is
    ready. Without it (tests, notebooks) startup returns with the model loaded.
    """
    settings = settings or ServiceSettings.from_env()
    state = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.slots = InferenceSlots(settings.max_concurrency)
        with cpu_threads(settings.inference_threads()):
            loading = asyncio.ensure_future(run_in_threadpool(_load, state, checkpoint))
            if not load_in_background:
                await loading
            try:
                yield
            finally:
                await loading  # a load still running at shutdown ends first (a thread cannot be cancelled)

    app = FastAPI(
        title="pneumolib",
        version=__version__,
        summary="Pneumonia vs normal on pediatric chest X-rays, with Grad-CAM. Not a diagnostic tool.",
        description=DISCLAIMER,
        lifespan=lifespan,
    )
    app.state.service = state
    # middlewares run outermost-last-added: headers on everything, then the catch-all, the key,
    # the per-client limits, the body size; refusals are decided before the upload is read
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
                       detail=too_large_detail(settings.max_upload_bytes))
    if settings.client_max_in_flight or settings.client_rate_per_minute:
        app.add_middleware(ClientLimiter, limits=ClientLimits(settings.client_rate_per_minute, settings.client_burst,
                                                              settings.client_max_in_flight))
    if settings.api_key:
        app.add_middleware(ApiKeyRequired, key=settings.api_key)
    install_error_handlers(app)  # its catch-all wraps everything above
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_routes(app, state)
    return app


@contextmanager
def cpu_threads(torch_threads: int) -> Iterator[None]:
    """Process-wide thread limits while serving; the previous ones are restored afterwards.

    PyTorch gets ``torch_threads`` per inference. NumPy's BLAS gets one thread: its only work
    here is tiny (the gate's feature vector times its precision matrix, a few hundred wide), and
    idle BLAS threads spin-wait for the next call, taking the cores from the model (measured on 2
    busy cores with 8 clients: 21 requests/s with OpenBLAS's default threads, 33 with one).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    blas = threadpool_limits(limits=1, user_api="blas")
    try:
        yield
    finally:
        blas.restore_original_limits()
        torch.set_num_threads(previous)


def _load(state: ServiceState, checkpoint: str | os.PathLike | None) -> None:
    """Find and load the checkpoint; on failure keep serving and explain it on /health."""
    path, source = checkpoints.find_checkpoint(checkpoint)
    state.checkpoint_source = source
    if not path.is_file():
        state.error = _missing_checkpoint(path, source)
        logger.error(state.error)
        return
    try:
        predictor = Predictor.load(path, state.settings.engine)
        state.model_info = build_model_info(predictor, source)
    except Exception as error:  # any load failure: report it, do not crash the server
        state.error = f"The model could not be loaded ({source}): {error}"
        logger.exception("model loading failed")
        return
    state.predictor, state.error = predictor, None
    logger.info("serving %s (%s), sha256 %s", path, source, predictor.info.sha256)


def _missing_checkpoint(path: Path, source: str) -> str:
    """Why there is no model, and how to give the service one."""
    if path == checkpoints.BUNDLED_CHECKPOINT:
        return (
            "No model to serve: no trained checkpoint was found and the bundled weights "
            f"({path.name}) are not installed. Set {checkpoints.CHECKPOINT_ENV} to the path of a "
            "finalized checkpoint and restart."
        )
    return f"No model to serve: there is no checkpoint file at {path} ({source}). Fix the path and restart."


def _unavailable(state: ServiceState, **extra: str) -> JSONResponse:
    """503 with the load error, for every route that needs the model."""
    detail = f"The service cannot make predictions right now. {state.error}"
    return JSONResponse({**extra, "detail": detail, "code": "model_unavailable"}, status_code=503,
                        headers={"Retry-After": "30"})


def _add_routes(app: FastAPI, state: ServiceState) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", responses={503: {"model": ErrorBody}})
    async def health() -> JSONResponse:
        """200 once the model is loaded and ready; 503 with the reason otherwise."""
        if state.predictor is None:
            return _unavailable(state, status="unavailable")
        return JSONResponse({"status": "ok", "model": state.predictor.info.to_dict(),
                             "checkpoint_source": state.checkpoint_source,
                             "max_concurrency": state.settings.max_concurrency,
                             "torch_threads": torch.get_num_threads(),
                             "inference": state.predictor.engine.describe()})

    @app.get("/model", responses={503: {"model": ErrorBody}})
    async def model_info() -> JSONResponse:
        """The model description: architecture, version, operating points, validation and test metrics."""
        if state.predictor is None:
            return _unavailable(state)
        return JSONResponse(state.model_info)

    @app.post("/predict", response_model=PredictionResponse, responses=ERRORS)
    async def predict(
        file: Annotated[UploadFile, File(description="The chest X-ray: PNG, JPEG or DICOM.")],
        heatmap: Annotated[bool, Query(description="Add a Grad-CAM overlay (base64 PNG).")] = False,
        operating_point: Annotated[OperatingPointName, Query(
            description="screening: few missed pneumonias; balanced: sensitivity + specificity.")
        ] = OperatingPointName.screening,
        allow_non_xray: Annotated[bool, Query(
            alias=OVERRIDE_FLAG,
            description="Predict even when the image does not look like a chest X-ray (unreliable).")
        ] = False,
    ) -> Any:
        """Pneumonia or normal for one chest X-ray, with the probability, threshold and warnings."""
        predictor = state.predictor
        if predictor is None or state.slots is None:
            return _unavailable(state)
        started, size, status = time.perf_counter(), file.size, 500
        try:
            async with state.slots:  # queued uploads wait as spooled files, not as bytes in memory
                data = await read_upload(file, state.settings.max_upload_bytes)
                size = len(data)
                async with state.slots.lend_idle(wanted=heatmap and state.settings.heatmap_idle_slot) as lent:
                    answer = await run_in_threadpool(
                        _answer, predictor, state.settings, data, file.filename, file.content_type,
                        operating_point.value, heatmap, allow_non_xray, lent,
                    )
            status = 200
            return answer
        except ImageFileError as error:
            status = error.status_code
            raise
        finally:  # the size, type, status and timing of an upload: never its name or its contents
            requests_log.info("predict: %s bytes, %s, status %d, %.0f ms", size, _media_type(file.content_type),
                              status, 1000 * (time.perf_counter() - started))


def _media_type(declared: str | None) -> str:
    """The upload's declared type for the log, when it looks like one (a client chooses this text)."""
    kind = (declared or "").split(";")[0].strip().lower()
    return kind if re.fullmatch(r"[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,60}", kind) else "no valid type"


def _answer(predictor: Predictor, settings: ServiceSettings, data: bytes, filename: str | None,
            content_type: str | None, operating_point: str, heatmap: bool,
            allow_non_xray: bool, lent: LentSlot | None = None) -> PredictionResponse:
    """Decode, predict and shape the answer: the CPU-bound part, run in a worker thread."""
    image = decode_image(data, filename, content_type, max_bytes=settings.max_upload_bytes,
                          max_pixels=settings.max_pixels)
    prediction = predictor.predict(image, operating_point, heatmap=heatmap, allow_non_xray=allow_non_xray,
                                   heatmap_max_side=settings.heatmap_max_side, lent=lent)
    return prediction_response(prediction, image, predictor.info)
