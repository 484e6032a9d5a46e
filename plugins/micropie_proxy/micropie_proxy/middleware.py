"""The ASGI layer: believe forwarding headers from trusted proxies, then check ``Host``."""

from __future__ import annotations

from micropie_core.origins import DEFAULT_PORTS, HostAllowList, split_host
from micropie_core.types import ASGIApp, RawHeaders, Receive, Scope, Send

from .forwarded import Forwarded, MalformedHeader, ProxyList, from_forwarded, from_x_forwarded

__all__ = ["ProxyMiddleware"]

_SCHEMES = {
    "http": {"http": "http", "https": "https", "ws": "http", "wss": "https"},
    "websocket": {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"},
}


_HOST_CACHE_SIZE = 256


class BadRequest(Exception):
    """The request cannot be served as sent: answered with 400 before the app runs."""


class ProxyMiddleware:
    """Rewrites ``client``, ``scheme`` and ``Host`` from trusted proxies; enforces allowed hosts.

    For HTTP and WebSocket scopes whose peer (``scope["client"]``) is one of
    ``proxies``, the forwarding header (``X-Forwarded-For/-Proto/-Host``, or
    RFC 7239 ``Forwarded`` when ``header="forwarded"``) is read right to left
    and the scope the app sees gets the client's address, the scheme and the
    host the client used. Other peers' forwarding headers are ignored. Then,
    when ``hosts`` is given, a request whose (effective) ``Host`` it does not
    allow is answered ``400`` (a WebSocket is refused) before the app runs or
    any body is read.
    """

    def __init__(self, inner: ASGIApp, proxies: ProxyList | None, header: str,
                 hosts: HostAllowList | None) -> None:
        self.inner = inner
        self.proxies = proxies
        self.forwarded = header == "forwarded"
        self.hosts = hosts
        self._allowed: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _SCHEMES:
            await self.inner(scope, receive, send)
            return
        try:
            if self.proxies is not None and self.proxies.trusts_peer(scope.get("client")):
                scope = self._rewrite(scope)
            if self.hosts is not None:
                self._check_host(scope)
        except BadRequest as exc:
            await _refuse(scope, receive, send, str(exc))
            return
        await self.inner(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers: RawHeaders = scope["headers"]
        assert self.proxies is not None
        trusted = self.proxies.trusts
        if self.forwarded:
            lines = [v for n, v in headers if n == b"forwarded"]
            if not lines:
                return scope
            try:
                info = from_forwarded(lines, trusted)
            except MalformedHeader as exc:
                raise BadRequest(f"{exc} (sent by a trusted proxy)") from None
        else:
            xff: list[bytes] = []
            proto: list[bytes] = []
            host: list[bytes] = []
            for name, value in headers:
                if name == b"x-forwarded-for":
                    xff.append(value)
                elif name == b"x-forwarded-proto":
                    proto.append(value)
                elif name == b"x-forwarded-host":
                    host.append(value)
            if not (xff or proto or host):
                return scope
            info = from_x_forwarded(xff, proto, host, trusted)
        return _apply(scope, info, "Forwarded" if self.forwarded else "X-Forwarded-Host")

    def _check_host(self, scope: Scope) -> None:
        assert self.hosts is not None
        value: bytes | None = None
        for name, header in scope["headers"]:
            if name == b"host":
                if value is not None:
                    raise BadRequest("expected exactly one Host header")
                value = header
        if value is None:
            raise BadRequest("expected exactly one Host header")
        # The hosts an app is reached under are few: remember the allowed ones
        # (bounded) instead of parsing the header on every request.
        if value in self._allowed:
            return
        parts = split_host(value.decode("latin-1").strip())
        if parts is None or not self.hosts.allows(parts[0]):
            raise BadRequest(
                "the Host header names a host this server does not serve (proxy.allowed_hosts)"
            )
        if len(self._allowed) < _HOST_CACHE_SIZE:
            self._allowed.add(value)


def _apply(scope: Scope, info: Forwarded, host_source: str) -> Scope:
    """A copy of ``scope`` with what the proxies said about client, scheme and host."""
    scope = dict(scope)
    if info.client is not None:
        scope["client"] = info.client
    elif info.client_unknown:
        scope["client"] = None
    scheme = scope.get("scheme", "http")
    if info.proto is not None:
        mapped = _SCHEMES[scope["type"]].get(info.proto.lower())
        if mapped is None:
            raise BadRequest(f"a trusted proxy sent an unknown protocol {info.proto[:20]!r}")
        scope["scheme"] = scheme = mapped
    if info.host is not None:
        parts = split_host(info.host)
        if parts is None:
            raise BadRequest(f"a trusted proxy sent an invalid host in {host_source}")
        host, port = parts
        scope["headers"] = [
            *((n, v) for n, v in scope["headers"] if n != b"host"),
            (b"host", info.host.lower().encode("latin-1")),
        ]
        if port is None:
            port = DEFAULT_PORTS.get(scheme, 80)
        scope["server"] = (host.strip("[]"), port)
    return scope


async def _refuse(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    """``400`` for HTTP (the body unread, so the connection closes); 403 for a WebSocket."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    body = f"400 Bad Request: {reason}.".encode()
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})
