"""The ASGI layer: answers preflights before routing, adds CORS headers to responses."""

from __future__ import annotations

import re

from micropie_core.origins import normalize_origin
from micropie_core.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

from .policy import CorsPolicy

__all__ = ["CORSMiddleware"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VARY_ORIGIN = (b"vary", b"Origin")
_PREFLIGHT_VARY = (b"vary", b"Origin, Access-Control-Request-Method, "
                            b"Access-Control-Request-Headers")


class CORSMiddleware:
    """Cross-origin resource sharing for every HTTP request of the app it wraps.

    A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
    is answered here, before routing and the handlers' ``_methods``: ``204``
    with the CORS headers when the origin, method and headers are allowed,
    else ``403`` with a plain-text reason and no CORS headers. Other requests
    reach the app; when their ``Origin`` is allowed the response gets
    ``Access-Control-Allow-Origin`` (and the credentials and expose headers
    configured). Every response gets ``Vary: Origin``, since its headers
    depend on the request's ``Origin``. WebSocket and lifespan scopes pass
    through untouched (the ws plugin owns the WebSocket ``Origin`` policy).
    """

    def __init__(self, inner: ASGIApp, policy: CorsPolicy) -> None:
        self.inner = inner
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        origin: bytes | None = None
        request_method: bytes | None = None
        request_headers: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"origin":
                if origin is None:
                    origin = value
            elif name == b"access-control-request-method":
                request_method = value
            elif name == b"access-control-request-headers":
                request_headers.append(value)
        if origin is None:
            await self.inner(scope, receive, _adding(send, [_VARY_ORIGIN]))
            return
        text = origin.decode("latin-1")
        normalized = normalize_origin(text)
        if scope["method"] == "OPTIONS" and request_method is not None:
            await self._preflight(send, text, normalized, request_method, request_headers)
            return
        policy = self.policy
        if not policy.allows_origin(normalized):
            await self.inner(scope, receive, _adding(send, [_VARY_ORIGIN]))
            return
        allow = b"*" if policy.wildcard else origin
        headers = [(b"access-control-allow-origin", allow), *policy.simple_headers,
                   _VARY_ORIGIN]
        await self.inner(scope, receive, _adding(send, headers))

    async def _preflight(self, send: Send, origin: str, normalized: str | None,
                         raw_method: bytes, raw_headers: list[bytes]) -> None:
        policy = self.policy
        method = raw_method.decode("latin-1").strip()
        requested = [h.strip().lower() for value in raw_headers
                     for h in value.decode("latin-1").split(",") if h.strip()]
        reason: str | None
        if not policy.allows_origin(normalized):
            reason = "the request's Origin is not in cors.allow_origins"
        elif not _TOKEN.fullmatch(method):
            reason = "Access-Control-Request-Method is not an HTTP method"
        elif not all(_TOKEN.fullmatch(h) for h in requested):
            reason = "Access-Control-Request-Headers is not a list of header names"
        else:
            reason = policy.refusal(method, requested)
        if reason is not None:
            body = f"403 Forbidden: CORS preflight refused: {reason}.".encode()
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                _PREFLIGHT_VARY,
            ]})
            await send({"type": "http.response.body", "body": body})
            return
        allow = b"*" if policy.wildcard else origin.encode("latin-1")
        headers: RawHeaders = [
            (b"access-control-allow-origin", allow),
            (b"access-control-allow-methods",
             method.encode() if policy.any_method else policy.methods_value),
            *policy.preflight_headers,
            _PREFLIGHT_VARY,
        ]
        if requested:
            # Every requested header is allowed (checked above): name exactly those.
            headers.append((b"access-control-allow-headers", ", ".join(requested).encode()))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _adding(send: Send, extra: RawHeaders) -> Send:
    """``send`` that appends ``extra`` to the response's headers."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return send_with_headers
