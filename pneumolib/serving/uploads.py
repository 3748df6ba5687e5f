"""Reading request bodies without trusting the size a client declares, or fails to declare.

Two layers, because a limit checked only after parsing is no limit: :class:`BodySizeLimit`
refuses a request whose Content-Length is over the limit before reading a byte, and cuts off a
body sent without one (chunked) as soon as it passes the limit, so the multipart parser never
buffers or spools more than that. :func:`read_upload` then reads the one file field in chunks
and stops at the file limit itself.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pneumolib.decode.errors import UploadTooLarge
from pneumolib.decode.limits import megabytes

MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart boundaries, part headers and small form fields around the file."""

CHUNK_SIZE = 1 << 20


def too_large_detail(max_bytes: int) -> str:
    """The 413 wording shared by both layers."""
    limit = megabytes(max_bytes) if max_bytes >= 100 * 1024 else f"{max_bytes / 1024:.0f} kB"
    return (
        f"The upload is larger than the {limit} limit. Send a smaller export of the X-ray "
        "(PNG or JPEG is usually a few MB)."
    )


async def read_upload(upload: UploadFile, max_bytes: int, chunk_size: int = CHUNK_SIZE) -> bytes:
    """The uploaded file's bytes, read in chunks; :class:`UploadTooLarge` once past ``max_bytes``."""
    if upload.size is not None and upload.size > max_bytes:
        raise UploadTooLarge(too_large_detail(max_bytes))
    buffer = bytearray()
    while chunk := await upload.read(chunk_size):
        buffer += chunk
        if len(buffer) > max_bytes:
            raise UploadTooLarge(too_large_detail(max_bytes))
    return bytes(buffer)


class _BodyTooLarge(Exception):
    """Raised inside ``receive`` to stop whoever is reading the body."""


class BodySizeLimit:
    """ASGI middleware: 413 JSON for request bodies over ``max_body_bytes``.

    Whatever the inner app does with the exception raised from ``receive`` (a framework may
    turn a body-parsing failure into its own 400), the client gets the 413: the inner app's
    response is replaced as long as it has not started.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, detail: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.detail = detail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._send_413(send)
            return

        received = 0
        exceeded = False
        started = False  # a response (ours or the app's) has begun

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                if not started:
                    started = True
                    await self._send_413(send)
                return  # drop the app's own answer to the cut-off body
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            if not started:
                await self._send_413(send)

    async def _send_413(self, send: Send) -> None:
        body = json.dumps({"detail": self.detail, "code": UploadTooLarge.code}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"),
                              (b"content-length", str(len(body)).encode()),
                              (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
