"""What the ``cors`` config allows, decided once: which origins, methods and headers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from micropie_core import ConfigError
from micropie_core.origins import OriginAllowList

__all__ = ["CorsPolicy"]

#: Request headers a browser may send cross-origin without asking (Fetch's
#: CORS-safelisted request headers); ``Content-Type`` is listed because a
#: ``Content-Type: application/json`` request asks for it.
SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_tokens(kind: str) -> Any:
    """A ``Setting.check`` for a list of HTTP tokens (methods, header names) or ``"*"``."""

    def check(value: Iterable[Any]) -> str | None:
        for item in value:
            if not isinstance(item, str) or not (item == "*" or _TOKEN.fullmatch(item)):
                return f"expected a list of {kind} (or '*' for any), found {item!r}"
        return None

    return check


def check_origins(value: Iterable[Any]) -> str | None:
    """A ``Setting.check`` for ``allow_origins``."""
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            return f"expected origins as strings such as 'https://example.com', found {item!r}"
        if item.strip().lower() == "null":
            return ("'null' is the origin of sandboxed frames and file: pages of any site; "
                    "allowing it would allow every site. List real origins instead")
    try:
        OriginAllowList(items)
    except ValueError as exc:
        return str(exc)
    return None


class CorsPolicy:
    """The validated ``cors`` section, with the header values it sends pre-encoded."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        origins = list(settings["allow_origins"])
        self.origins = OriginAllowList(origins)
        self.credentials: bool = settings["allow_credentials"]
        if self.credentials and self.origins.any:
            raise ConfigError(
                "Config cors.allow_origins is '*' with cors.allow_credentials=True: every "
                "site could then read your users' logged-in responses, so browsers refuse "
                "it and so do we. List the origins (patterns like 'https://*.example.com' "
                "work), or drop allow_credentials."
            )
        methods = [m.upper() if m.lower() in _STANDARD_METHODS else m
                   for m in settings["allow_methods"]]
        self.any_method = "*" in methods
        self.methods = frozenset(methods) - {"*"}
        headers = [h.lower() for h in settings["allow_headers"]]
        self.any_header = "*" in headers
        self.headers = (frozenset(headers) - {"*"}) | SAFELISTED_HEADERS
        # "*" on its own means "any origin, nothing personal": the one case in
        # which the Allow-Origin value does not echo the request's Origin.
        self.wildcard = self.origins.any and not self.credentials
        extra: list[tuple[bytes, bytes]] = []
        if self.credentials:
            extra.append((b"access-control-allow-credentials", b"true"))
        self.simple_headers = extra + (
            [(b"access-control-expose-headers", ", ".join(settings["expose_headers"]).encode())]
            if settings["expose_headers"] else []
        )
        self.preflight_headers = [
            *extra,
            (b"access-control-max-age", str(settings["max_age"]).encode()),
        ]
        self.methods_value = ", ".join(sorted(self.methods)).encode()

    def allows_origin(self, origin: str | None) -> bool:
        """Whether a normalized origin (``None`` for ``null`` and garbage) may read responses."""
        if self.wildcard:
            return True
        return origin is not None and self.origins.allows(origin)

    def refusal(self, method: str, requested_headers: list[str]) -> str | None:
        """Why a preflight for an allowed origin is refused, or ``None`` if it is not."""
        if not self.any_method and method not in self.methods:
            return (f"method {method!r} is not in cors.allow_methods "
                    f"({', '.join(sorted(self.methods)) or 'none'})")
        if not self.any_header:
            unknown = [h for h in requested_headers if h not in self.headers]
            if unknown:
                return f"header {unknown[0]!r} is not in cors.allow_headers"
        return None


_STANDARD_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})
