"""An optional service-side key: who may ask for predictions and the model's description.

Off by default (a service on the learner's own machine or behind the Colab proxy is theirs
alone). With ``PNEUMO_API_KEY`` set, ``POST /predict`` and ``GET /model`` need the key, sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (the page uses the second, so that it
works together with the tunnel's own basic-auth credentials, which use ``Authorization``).
Everything else stays open: the page (it asks for the key), ``/health`` (for load balancers and
the notebook's start-up check), ``/docs`` and the static files. The key is compared in constant
time and never logged; a refusal is a plain 401 with ``WWW-Authenticate``, decided before the
upload is read.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pneumolib.serving.handlers import error_response

PROTECTED_PATHS = ("/predict", "/model")
KEY_HEADER = "x-api-key"
MISSING = ("This service needs a key. Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
           "(the page asks for it); whoever started the service can tell you the key.")
WRONG = "The key sent is not this service's key. Check it with whoever started the service and try again."


def presented_key(headers: Headers) -> str | None:
    """The key a request carries, from ``X-API-Key`` or a bearer ``Authorization`` header."""
    if headers.get(KEY_HEADER):
        return headers[KEY_HEADER].strip()
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


class ApiKeyRequired:
    """ASGI middleware: 401 for protected paths unless the request carries ``key``."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in PROTECTED_PATHS:
            await self.app(scope, receive, send)
            return
        given = presented_key(Headers(scope=scope))
        if given is not None and hmac.compare_digest(given.encode(), self.key):
            await self.app(scope, receive, send)
            return
        response = error_response(401, MISSING if given is None else WRONG,
                                  "key_required" if given is None else "wrong_key",
                                  {"WWW-Authenticate": 'Bearer realm="pneumolib"', "Connection": "close"})
        await response(scope, receive, send)
