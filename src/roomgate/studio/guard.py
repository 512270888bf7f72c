"""The studio's gate keeper, as ASGI middleware: the ``Host`` header must name this machine (against
DNS rebinding), and every request but the page's static files must carry the session's token (the
``X-Roomgate-Token`` header or ``?token=``). Every answer gets security headers (no sniffing, no
referrer, no framing, a strict content security policy, no caching)."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response

from .errors import error_response

if TYPE_CHECKING:
    from .session import Studio

__all__ = ["ALLOWED_HOSTNAMES", "TOKEN_HEADER", "Guard"]

TOKEN_HEADER = "X-Roomgate-Token"
ALLOWED_HOSTNAMES = ("127.0.0.1", "localhost", "[::1]")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the token is in the page's URL: never send it on
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'none'",
    ),
    (b"cache-control", b"no-store"),
]


class Guard:
    """ASGI middleware: the Host header must name this machine (against DNS rebinding), and every
    request but the page's static files must carry the token. Adds security headers."""

    def __init__(self, app: Any, token: str, port: int | None, studio: Studio):
        self.app = app
        self.token = token
        self.port = port
        self.studio = studio  # for tests and embedding

    def _host_ok(self, host: str) -> bool:
        host = host.strip().lower()
        if host.startswith("["):
            name, _, rest = host.partition("]")
            name += "]"
            port = rest[1:] if rest.startswith(":") else ""
        else:
            name, _, port = host.partition(":")
        if name not in ALLOWED_HOSTNAMES:
            return False
        if self.port is None or port == "":
            return self.port is None
        return port == str(self.port)

    def _token_ok(self, headers: Headers, query: str) -> bool:
        given = headers.get(TOKEN_HEADER.lower())
        if given is None:
            given = (parse_qs(query).get("token") or [""])[0]
        return secrets.compare_digest(given.encode("utf-8", "replace"), self.token.encode("utf-8"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = Headers(scope=scope)

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        path = scope.get("path", "")
        query = scope.get("query_string", b"").decode("latin-1")
        if not self._host_ok(headers.get("host", "")):
            response: Response = PlainTextResponse(
                "403: this studio answers only to 127.0.0.1 or localhost (the Host header named "
                f"{headers.get('host', '')!r})", status_code=403)
        elif path.startswith("/static/") or path == "/favicon.ico" or self._token_ok(headers, query):
            await self.app(scope, receive, send_with_headers)
            return
        elif path.startswith("/api/"):
            response = error_response(403, "missing or wrong token: open the URL that 'roomgate studio' printed")
        else:
            response = PlainTextResponse(
                "403: missing or wrong token. Open the URL that 'roomgate studio' printed "
                "(it ends in ?token=...).", status_code=403)
        await response(scope, receive, send_with_headers)
