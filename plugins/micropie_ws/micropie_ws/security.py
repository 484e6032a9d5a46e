"""Cross-site WebSocket hijacking protection: which ``Origin`` may connect."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from micropie_core import Headers

__all__ = ["OriginPolicy"]

_DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}


def normalize_origin(origin: str) -> str | None:
    """``HTTPS://Example.com:443`` → ``https://example.com``; ``None`` if it is not an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host or parts.path not in ("", "/"):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and str(port) != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def _host_of(origin: str) -> str:
    """The ``host[:port]`` part of a normalized origin."""
    return origin.partition("://")[2]


def _normalize_host(host: str) -> str:
    host = host.strip().lower()
    for port in (":80", ":443"):
        if host.endswith(port) and not host.endswith("]"):
            return host[: -len(port)]
    return host


class OriginPolicy:
    """Decides whether a browser's ``Origin`` may open a WebSocket.

    ``allowed=None`` (the default) accepts only the request's own host: the
    page must come from the site it connects to. A list accepts exactly those
    origins (``"https://app.example.com"``); ``"*"`` accepts any. Requests
    without an ``Origin`` header (non-browser clients) are accepted: the
    header exists to stop browsers from being abused across sites.
    """

    def __init__(self, allowed: Iterable[str] | None) -> None:
        self.any = False
        self.allowed: frozenset[str] | None = None
        if allowed is not None:
            entries = list(allowed)
            self.any = "*" in entries
            normalized = set()
            for entry in entries:
                if entry == "*":
                    continue
                if "*" in entry:
                    raise ValueError(
                        f"{entry!r}: wildcards inside an origin are not supported; list "
                        "each origin ('https://a.example.com', 'https://b.example.com'), "
                        "or use '*' alone for any origin."
                    )
                value = normalize_origin(entry)
                if value is None:
                    raise ValueError(
                        f"{entry!r} is not an origin: expected scheme://host[:port], "
                        "e.g. 'https://example.com', or '*' for any origin."
                    )
                normalized.add(value)
            self.allowed = frozenset(normalized)

    def allows(self, headers: Headers) -> bool:
        """Whether a connection with these request headers may proceed."""
        origin = headers.get("origin")
        if origin is None or self.any:
            return True
        normalized = normalize_origin(origin)
        if normalized is None:
            return False  # "null" (sandboxed pages, file://) and garbage
        if self.allowed is not None:
            return normalized in self.allowed
        host = headers.get("host")
        return host is not None and _host_of(normalized) == _normalize_host(host)
