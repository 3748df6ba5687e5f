"""Every failure becomes ``{"detail": "<plain words>", "code": "<name>"}`` with the right status.

Clients (and the people behind them) should always learn what to do next, never see a stack
trace, and a bad request must never take the server down. FastAPI's own 422 lists pydantic
error objects; they are rewritten here into one sentence naming the parameter. Anything
unexpected is logged with its traceback and answered with a 500 that reveals nothing inside.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pneumolib.constants import OPERATING_POINTS
from pneumolib.decode.errors import ImageFileError

logger = logging.getLogger(__name__)

INTERNAL_ERROR = (
    "Something went wrong on the server while handling this request. It has been logged; try "
    "again, and report the problem if it keeps happening."
)
ENDPOINTS = "The API is POST /predict, GET /health and GET /model; see /docs."


def error_response(status: int, detail: str, code: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The one error body shape used everywhere."""
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=dict(headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers and the catch-all middleware on ``app``."""

    @app.exception_handler(ImageFileError)
    async def upload_error(_: Request, exc: ImageFileError) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, exc.code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, validation_detail(exc.errors()), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail, code = http_detail(request, exc)
        return error_response(exc.status_code, detail, code, exc.headers)

    app.add_middleware(CatchAll)


def validation_detail(errors: Iterable[Mapping[str, Any]]) -> str:
    """FastAPI's list of validation errors as sentences a person can act on."""
    sentences: list[str] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        name = loc[0] if loc else ""
        kind = str(error.get("type", ""))
        if name == "file" and kind == "missing":
            text = ("No image was sent. Attach the chest X-ray as a multipart/form-data field named "
                    "'file' (for example: curl -F file=@xray.png http://host/predict).")
        elif name == "file":
            text = ("The form field 'file' must be an uploaded file, not text. Attach the chest X-ray "
                    "as a file in a multipart/form-data field named 'file'.")
        elif name == "operating_point":
            text = f"operating_point must be one of: {', '.join(OPERATING_POINTS)} (default screening)."
        elif kind.startswith("bool"):
            text = f"'{name}' must be true or false."
        elif name:
            text = f"The parameter '{name}' is invalid: {error.get('msg', 'bad value')}."
        else:
            text = "The request could not be understood. Send the image as a multipart/form-data field named 'file'."
        if text not in sentences:
            sentences.append(text)
    return " ".join(sentences) or "The request is invalid. See /docs for the expected form."


def http_detail(request: Request, exc: StarletteHTTPException) -> tuple[str, str]:
    """Friendlier words for the framework's own HTTP errors (404, 405, unparseable body)."""
    if exc.status_code == 404:
        return f"There is nothing at {request.url.path}. {ENDPOINTS}", "not_found"
    if exc.status_code == 405:
        return f"{request.method} is not allowed on {request.url.path}. {ENDPOINTS}", "method_not_allowed"
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        return ("The request body could not be read as a multipart form. Send the image as a "
                "multipart/form-data field named 'file'."), "bad_form"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else "The request failed."
    return detail, f"http_{exc.status_code}"


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a logged, content-free 500 JSON.

    Sits inside Starlette's outermost error middleware, which would answer too but then re-raise,
    so that servers and test clients see the exception; here the request simply ends.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # headers are out; nothing valid can follow, let the server close it
                raise
            body = json.dumps({"detail": INTERNAL_ERROR, "code": "internal_error"}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})
