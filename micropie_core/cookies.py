"""Cookies: parsing the request ``Cookie`` header and formatting ``Set-Cookie``.

Parsing is one linear parser with the browsers' rules.

The rules are those of RFC 6265 §5.2 as browsers apply them (and RFC 6265bis):

- the header is split on ``;``; each pair is split at its *first* ``=``;
- spaces and tabs around names and values are trimmed;
- a pair with no ``=`` has an empty name, and so does one that starts with
  ``=``: such pairs are ignored. ``=__Host-x=bad`` is therefore never read as
  a cookie named ``__Host-x`` (a trick to smuggle past prefix checks);
- a value wrapped in one pair of double quotes loses those two quotes and
  nothing else: there is no backslash unescaping (``"a\\b"`` is ``a\\b``);
- the first occurrence of a name wins (browsers send the most specific first).

Unlike the stdlib's ``http.cookies`` (quadratic on backslashes on many
deployed CPythons, CVE-2024-7592), the work is one ``split`` and one pass.
The ``Cookie`` headers of a request may total :data:`MAX_COOKIE_HEADER_SIZE`
bytes; a larger one is a 400, as nginx and most servers do.

:func:`format_cookie` writes only what this parser (and every browser) reads
back unchanged: a token name and a value of RFC 6265 cookie-octets, never
quoted or escaped; anything else is a ``ValueError`` that says to encode it.
"""

from __future__ import annotations

import re

from .errors import HTTPError
from .types import RawHeaders

__all__ = [
    "MAX_COOKIE_HEADER_SIZE", "cookie_header", "format_cookie", "parse_cookie_bytes",
    "parse_cookie_header", "request_cookies",
]

#: Bytes of ``Cookie`` header a request may send (all of its Cookie headers).
#: Browsers cap one cookie at 4 KiB and a site at a few dozen of them.
MAX_COOKIE_HEADER_SIZE = 64 * 1024
_BLANK = " \t"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")  # RFC 6265
_ATTRIBUTE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")  # printable ASCII but ";"


def parse_cookie_header(header: str) -> dict[str, str]:
    """``"a=1; b=\\"2\\""`` → ``{"a": "1", "b": "2"}`` by the rules above; never raises."""
    cookies: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        if not sep:
            continue  # no "=": an empty name
        name = name.strip(_BLANK)
        if not name or name in cookies:
            continue
        value = value.strip(_BLANK)
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        cookies[name] = value
    return cookies


def cookie_header(raw_headers: RawHeaders) -> bytes:
    """A request's ``Cookie`` headers joined by ``"; "`` (HTTP/2 sends one per cookie).

    ``b""`` when there is none. Raises ``HTTPError(400)`` when they total more
    than :data:`MAX_COOKIE_HEADER_SIZE`.
    """
    first: bytes | None = None
    several: list[bytes] | None = None
    size = -2
    for name, value in raw_headers:
        # ASGI names are lower case; the second test keeps a hand-built scope working.
        if name == b"cookie" or (len(name) == 6 and name.lower() == b"cookie"):
            size += len(value) + 2
            if first is None:
                first = value
            elif several is None:
                several = [first, value]
            else:
                several.append(value)
    if first is None:
        return b""
    if size > MAX_COOKIE_HEADER_SIZE:
        raise HTTPError(
            400, f"Cookie header of {size} bytes is larger than the limit of "
            f"{MAX_COOKIE_HEADER_SIZE} bytes; clear this site's cookies"
        )
    return first if several is None else b"; ".join(several)


def request_cookies(raw_headers: RawHeaders) -> dict[str, str]:
    """The cookies of a request's raw ASGI headers (every ``Cookie`` header, in order).

    Raises ``HTTPError(400)`` when they total more than :data:`MAX_COOKIE_HEADER_SIZE`.
    """
    return parse_cookie_bytes(cookie_header(raw_headers))


def parse_cookie_bytes(header: bytes) -> dict[str, str]:
    """:func:`parse_cookie_header` of a raw (latin-1) value such as :func:`cookie_header` gives."""
    return parse_cookie_header(header.decode("latin-1")) if header else {}


def format_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    path: str = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    samesite: str | None = "lax",
) -> str:
    """Build a ``Set-Cookie`` value that reads back as exactly ``name`` = ``value``.

    Raises ``ValueError`` for a name that is not a token, a value with
    characters outside RFC 6265's cookie-octets (space, ``"``, ``,``, ``;``,
    ``\\``, controls, non-ASCII) or an attribute containing ``;`` or controls.
    """
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"Cookie name {name!r} is not an HTTP token (letters, digits, "
                         "!#$%&'*+.^_`|~-)")
    if not _COOKIE_OCTETS.fullmatch(value):
        raise ValueError(
            f"Cookie {name!r} has a value with characters a cookie cannot carry unencoded "
            f"(space, '\"', ',', ';', '\\', controls or non-ASCII): {value[:40]!r}. "
            "Encode it first, e.g. urllib.parse.quote(value), and decode it when reading."
        )
    for attribute, given in (("path", path), ("domain", domain or "")):
        if not _ATTRIBUTE.fullmatch(given):
            raise ValueError(f"Cookie {attribute} {given!r} contains ';' or a control "
                             "character")
    parts = [f"{name}={value}", f"Path={path}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if domain:
        parts.append(f"Domain={domain}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite:
        parts.append(f"SameSite={samesite.capitalize()}")
    return "; ".join(parts)
