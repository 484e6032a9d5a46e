"""Parsing the request ``Cookie`` header: one linear parser with the browsers' rules.

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
"""

from __future__ import annotations

from .errors import HTTPError
from .types import RawHeaders

__all__ = ["MAX_COOKIE_HEADER_SIZE", "parse_cookie_header", "request_cookies"]

#: Bytes of ``Cookie`` header a request may send (all of its Cookie headers).
#: Browsers cap one cookie at 4 KiB and a site at a few dozen of them.
MAX_COOKIE_HEADER_SIZE = 64 * 1024
_BLANK = " \t"


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


def request_cookies(raw_headers: RawHeaders) -> dict[str, str]:
    """The cookies of a request's raw ASGI headers (every ``Cookie`` header, in order).

    Raises ``HTTPError(400)`` when they total more than :data:`MAX_COOKIE_HEADER_SIZE`.
    """
    values = [value for name, value in raw_headers if name.lower() == b"cookie"]
    if not values:
        return {}
    size = sum(len(v) for v in values) + 2 * (len(values) - 1)
    if size > MAX_COOKIE_HEADER_SIZE:
        raise HTTPError(
            400, f"Cookie header of {size} bytes is larger than the limit of "
            f"{MAX_COOKIE_HEADER_SIZE} bytes; clear this site's cookies"
        )
    return parse_cookie_header(b"; ".join(values).decode("latin-1"))
