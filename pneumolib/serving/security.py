"""Security headers on every response: what a browser may do with the page and the answers.

A service that describes a child's film, opened to the internet through a tunnel, must not let
another site frame the page (clickjacking), must not let a browser guess a response's type
(an upload read back as HTML), must not tell other sites where the user came from, and must not
leave answers in a browser's or a proxy's cache. The page has no inline script or style, so its
content security policy allows only the service's own files, plus ``data:`` (the heatmap PNG)
and ``blob:`` (the chosen film, shown from memory) for images.

FastAPI's ``/docs`` page loads Swagger UI from a CDN and starts it with an inline script: it gets
its own, looser policy (that CDN and inline code), still with no framing and no caching.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'",
])
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = "; ".join([
    "default-src 'self'", f"script-src 'self' 'unsafe-inline' {DOCS_CDN}", f"style-src 'self' 'unsafe-inline' {DOCS_CDN}",
    "img-src 'self' data: https://fastapi.tiangolo.com", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "frame-ancestors 'none'",
])
DOCS_PATHS = ("/docs", "/redoc")

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
NO_STORE = "no-store"
STATIC_CACHE = "no-cache"  # the page's own script and style: revalidated, so an update shows at once


def headers_for(path: str) -> dict[str, str]:
    """The security headers a response to ``path`` carries."""
    docs = any(path == prefix or path.startswith(prefix + "/") for prefix in DOCS_PATHS)
    return {
        **COMMON_HEADERS,
        "Content-Security-Policy": DOCS_POLICY if docs else PAGE_POLICY,
        "Cache-Control": STATIC_CACHE if path.startswith("/static/") else NO_STORE,
    }


class SecurityHeaders:
    """ASGI middleware: :func:`headers_for` on every HTTP response, errors and refusals included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", "/"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
