"""The one JSON serializer used for responses, request bodies and session data."""

from __future__ import annotations

from typing import Any

import orjson

from .errors import HTTPError


def json_dumps(value: Any) -> bytes:
    """Serialize ``value`` to compact UTF-8 JSON bytes.

    Dict keys may be ``str``, ``int``, ``float`` or ``bool`` (converted to
    strings); dataclasses, ``datetime`` and ``uuid`` values are supported.
    Anything else raises ``TypeError`` naming the offending type.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def json_loads(data: bytes | str, *, max_depth: int = 512) -> Any:
    """Parse JSON text, refusing documents nested deeper than ``max_depth``.

    Raises ``HTTPError(400)`` for malformed or too deeply nested input, so it can
    be used directly on request bodies.
    """
    raw = data.encode() if isinstance(data, str) else data
    # Counting openers is a C-speed scan; only a document that *could* be too
    # deep pays for the exact depth walk below.
    if raw.count(b"[") + raw.count(b"{") > max_depth:
        _check_depth(raw, max_depth)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPError(400, "Bad JSON") from None


def _check_depth(raw: bytes, max_depth: int) -> None:
    depth = 0
    in_string = False
    escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                raise HTTPError(400, f"JSON nested deeper than {max_depth} levels")
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
