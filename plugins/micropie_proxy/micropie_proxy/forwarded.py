"""Reading what trusted proxies say about the client: ``X-Forwarded-*`` and RFC 7239 ``Forwarded``.

Each proxy adds the address it received the request from to the right of the
list. Reading from the right, every address that is a trusted proxy is
skipped; the first one that is not is the client, and the scheme and host
recorded by the proxy that received the request from it are the request's.
Entries further left were written by the client and are never believed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Forwarded", "ProxyList", "from_forwarded", "from_x_forwarded", "parse_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What the proxies say about the original request (``None`` = not said)."""

    client: tuple[str, int] | None
    client_unknown: bool  # the proxies said "unknown" or gave an obfuscated name
    proto: str | None
    host: str | None


_PEER_CACHE_SIZE = 4096


class MalformedHeader(ValueError):
    """A forwarding header from a trusted proxy cannot be parsed."""


class ProxyList:
    """Which peers are trusted proxies: addresses and networks, ``"unix"``, or ``"*"``."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.any = False
        self.unix = False
        networks = []
        for entry in entries:
            if entry == "*":
                self.any = True
            elif entry == "unix":
                self.unix = True
            else:
                networks.append(ipaddress.ip_network(entry, strict=False))
        self.networks = tuple(networks)
        self._peers: dict[object, bool] = {}

    def trusts(self, address: IPAddress | None) -> bool:
        """Whether a peer at ``address`` (``None``: no address, a Unix socket) is a proxy."""
        if address is None:
            return self.unix or self.any
        if self.any:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(address in network for network in self.networks)

    def trusts_peer(self, client: object) -> bool:
        """Whether the ASGI ``scope["client"]`` value is a trusted proxy."""
        if client is None:
            return self.trusts(None)
        try:
            host = client[0]  # type: ignore[index]
            hash(host)
        except (TypeError, IndexError):
            return self.any
        # Peers are few (the proxies, or a client's address per connection):
        # remember the answer rather than parse the address on every request
        # (parsing was a third of this layer's cost, measured).
        known = self._peers.get(host)
        if known is None:
            try:
                known = self.trusts(ipaddress.ip_address(host))
            except (TypeError, ValueError):
                known = self.any
            if len(self._peers) >= _PEER_CACHE_SIZE:
                self._peers.clear()  # bounded, whatever addresses connect
            self._peers[host] = known
        return known


def parse_address(value: str) -> tuple[IPAddress, int] | None:
    """``1.2.3.4``, ``1.2.3.4:80``, ``2001:db8::1``, ``[2001:db8::1]:80`` → (address, port)."""
    value = value.strip()
    port = 0
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        port = int(rest[1:]) if rest else 0
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    else:
        host = value
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return (address, port) if port <= 65535 else None


def _walk(
    hops: list[str], trusted: Callable[[IPAddress | None], bool]
) -> tuple[int, tuple[IPAddress, int] | None, bool]:
    """Index (from the right) of the client's entry, its address, and whether it is unknown."""
    index = -1
    address: tuple[IPAddress, int] | None = None
    for index, hop in enumerate(reversed(hops)):
        address = parse_address(hop)
        if address is None:
            return index, None, True  # "unknown", an obfuscated name or garbage: stop
        if not trusted(address[0]):
            return index, address, False
    return index, address, False  # every hop is a proxy: the leftmost is the client


def _pick(values: list[str], index: int) -> str | None:
    """The entry a proxy wrote for hop ``index`` (from the right) of the address list.

    A proxy that overwrites instead of appending leaves a shorter list; its
    leftmost entry is then the one written furthest out.
    """
    if not values:
        return None
    return values[-(index + 1)] if len(values) > index else values[0]


def _split(values: list[bytes]) -> list[str]:
    return [item.strip() for value in values for item in value.decode("latin-1").split(",")
            if item.strip()]


def from_x_forwarded(
    xff: list[bytes], proto: list[bytes], host: list[bytes],
    trusted: Callable[[IPAddress | None], bool],
) -> Forwarded:
    """Read ``X-Forwarded-For``, ``-Proto`` and ``-Host`` (every header line of each)."""
    hops = _split(xff)
    index, address, unknown = _walk(hops, trusted) if hops else (0, None, False)
    return Forwarded(
        client=(str(address[0]), address[1]) if address else None,
        client_unknown=unknown,
        proto=_pick(_split(proto), index),
        host=_pick(_split(host), index),
    )


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# One pair of a forwarded-element: token=token or token="quoted string". The
# quoted-string alternatives do not overlap, and the loop below consumes every
# character once, so parsing is linear in the header's length.
_PAIR = re.compile(rf'({_TOKEN})[ \t]*=[ \t]*(?:({_TOKEN})|"((?:[^"\\]|\\.)*)")[ \t]*')
_UNESCAPE = re.compile(r"\\(.)")


def parse_forwarded(values: list[bytes]) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded`` header lines → one dict per element, left to right."""
    text = ",".join(value.decode("latin-1") for value in values)
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    position, end = 0, len(text)
    while position < end:
        char = text[position]
        if char in " \t;":  # blanks and empty pairs or list members are allowed
            position += 1
            continue
        if char == ",":
            if current:
                elements.append(current)
            current = {}
            position += 1
            continue
        match = _PAIR.match(text, position)
        if match is None or (match.end() < end and text[match.end()] not in ";,"):
            raise MalformedHeader(f"Forwarded header is malformed at character {position}")
        name, token, quoted = match.groups()
        current[name.lower()] = token if token is not None else _UNESCAPE.sub(r"\1", quoted)
        position = match.end()
    if current:
        elements.append(current)
    return elements


def from_forwarded(values: list[bytes], trusted: Callable[[IPAddress | None], bool]) -> Forwarded:
    """Read RFC 7239 ``Forwarded`` (every header line); raises :class:`MalformedHeader`."""
    elements = parse_forwarded(values)
    if not elements:
        return Forwarded(None, False, None, None)
    index, address, unknown = _walk([e.get("for", "unknown") for e in elements], trusted)
    element = elements[-(index + 1)]
    return Forwarded(
        client=(str(address[0]), address[1]) if address else None,
        client_unknown=unknown,
        proto=element.get("proto"),
        host=element.get("host"),
    )
