"""Origins and host names as clients send them, and allow-lists of them with ``*.`` patterns.

Plugins that compare an ``Origin``, a ``Referer`` or a ``Host`` with their
configuration (CORS, CSRF, trusted hosts) share these, so that every one of
them parses the same strict way and a pattern never matches more than it says:
``*.example.com`` is one or more labels in front of ``.example.com``, never
``evil-example.com`` nor ``example.com.evil.net``. Nothing here builds a
regular expression from configuration.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

__all__ = ["DEFAULT_PORTS", "HostAllowList", "OriginAllowList", "normalize_origin", "split_host"]

#: Ports that are implied by a scheme and dropped when normalizing.
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Labels of letters, digits, '-' and '_' joined by single dots: no empty label,
# and no overlapping repetition, so matching is linear in the length.
_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_HOST_PORT = re.compile(r"(\[[0-9a-f:.]+\]|[^\[\]:]+)(?::([0-9]{1,5}))?")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


def _valid_host(host: str) -> bool:
    """A DNS name or IPv4 address (lower-case), or a bracketed IPv6 address."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return _NAME.fullmatch(host) is not None


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Example.COM:8080`` → ``("example.com", 8080)``; ``None`` if it is not ``host[:port]``.

    The host is lower-cased; an IPv6 address keeps its brackets. A value with
    user info, a path, spaces or an empty label (``example.com.``) is refused.
    """
    match = _HOST_PORT.fullmatch(value.lower())
    if match is None:
        return None
    host, port = match.groups()
    if not _valid_host(host):
        return None
    if port is None:
        return host, None
    number = int(port)
    return (host, number) if number <= 65535 else None


def normalize_origin(value: str) -> str | None:
    """``HTTPS://Example.com:443`` → ``https://example.com``; ``None`` if not an origin.

    An origin is exactly ``scheme://host[:port]``: the default port of the
    scheme is dropped, everything is lower-cased. ``null`` (sandboxed frames,
    ``file:`` pages), paths, queries and user info are refused.
    """
    scheme, sep, rest = value.strip().lower().partition("://")
    if not sep or _SCHEME.fullmatch(scheme) is None:
        return None
    parts = split_host(rest)
    if parts is None:
        return None
    host, port = parts
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class HostAllowList:
    """Host names allowed by a list of exact names and ``*.example.com`` patterns.

    ``"*"`` allows every host. Ports are not part of the match: give
    :meth:`allows` the host from :func:`split_host`.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.any = False
        exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in patterns:
            if pattern == "*":
                self.any = True
                continue
            wildcard = pattern.startswith("*.")
            parts = split_host(pattern[2:] if wildcard else pattern)
            if parts is None or parts[1] is not None or (wildcard and parts[0].startswith("[")):
                raise ValueError(
                    f"{pattern!r} is not a host name or pattern: expected 'example.com', "
                    "'*.example.com' (any subdomain) or '*' (any host), without a port."
                )
            if wildcard:
                suffixes.append("." + parts[0])
            else:
                exact.add(parts[0])
        self.exact = frozenset(exact)
        self.suffixes = tuple(suffixes)

    def allows(self, host: str) -> bool:
        """Whether ``host`` (lower-case, as :func:`split_host` returns it) is allowed."""
        if self.any or host in self.exact:
            return True
        # split_host() refuses empty labels, so whatever precedes the suffix is
        # one or more whole labels.
        return bool(self.suffixes) and host.endswith(self.suffixes)


class OriginAllowList:
    """Origins allowed by a list of exact origins and ``https://*.example.com`` patterns.

    ``"*"`` allows every origin (but never ``null``, which :func:`normalize_origin`
    refuses). A pattern fixes the scheme and the port: ``https://*.example.com``
    matches ``https://a.example.com`` and ``https://a.b.example.com``, not
    ``http://a.example.com`` nor ``https://a.example.com:8443``.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.any = False
        exact: set[str] = set()
        wildcards: dict[tuple[str, str], list[str]] = {}
        for pattern in patterns:
            if pattern == "*":
                self.any = True
                continue
            scheme, sep, rest = pattern.partition("://")
            wildcard = rest.startswith("*.")
            origin = normalize_origin(f"{scheme}://{rest[2:]}" if wildcard else pattern)
            if not sep or origin is None or "*" in origin:
                raise ValueError(
                    f"{pattern!r} is not an origin or pattern: expected "
                    "scheme://host[:port] such as 'https://example.com', "
                    "'https://*.example.com' (any subdomain), or '*' (any origin)."
                )
            if wildcard:
                scheme, _, host_port = origin.partition("://")
                host, colon, port = host_port.partition(":")
                if host.startswith("["):
                    raise ValueError(f"{pattern!r}: a '*.' pattern needs a domain name.")
                wildcards.setdefault((scheme, colon + port), []).append("." + host)
            else:
                exact.add(origin)
        self.exact = frozenset(exact)
        self.wildcards = {key: tuple(value) for key, value in wildcards.items()}

    def allows(self, origin: str) -> bool:
        """Whether ``origin`` (as :func:`normalize_origin` returns it) is allowed."""
        if self.any or origin in self.exact:
            return True
        if not self.wildcards:
            return False
        scheme, _, host_port = origin.partition("://")
        if host_port.startswith("["):
            return False
        host, colon, port = host_port.partition(":")
        suffixes = self.wildcards.get((scheme, colon + port))
        return suffixes is not None and host.endswith(suffixes)
