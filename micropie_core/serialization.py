"""The one JSON serializer used for responses, request bodies and session data."""

from __future__ import annotations

import gc
from types import ModuleType
from typing import Any

from .errors import HTTPError

#: The deepest document orjson can write back: ``orjson.dumps`` refuses more
#: nesting than this, so a body accepted deeper could not be echoed (a 500).
MAX_SERIALIZABLE_DEPTH = 254
#: A body larger than this is parsed with the cyclic garbage collector paused:
#: millions of fresh lists or dicts otherwise trigger collection after
#: collection, several times the cost of parsing (15 MiB of ``[[],[],...]``:
#: 0.5 s paused, 2.7-5 s not, measured). Smaller bodies cannot make enough.
_PAUSE_GC_ABOVE = 64 * 1024


_orjson: ModuleType | None = None


def _load_orjson() -> ModuleType:
    """Import orjson on first use: it pulls in ``uuid``, ``platform`` and more, about
    a third of what ``import micropie_core`` cost, for apps that may never touch JSON."""
    global _orjson
    import orjson

    _orjson = orjson
    return orjson


def json_dumps(value: Any) -> bytes:
    """Serialize ``value`` to compact UTF-8 JSON bytes.

    Dict keys may be ``str``, ``int``, ``float`` or ``bool`` (converted to
    strings); dataclasses, ``datetime`` and ``uuid`` values are supported.
    Anything else raises ``TypeError`` naming the offending type.
    """
    orjson = _orjson or _load_orjson()
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)  # type: ignore[no-any-return]


def json_loads(data: bytes | str, *, max_depth: int = 200) -> Any:
    """Parse JSON text, refusing documents nested deeper than ``max_depth``.

    Raises ``HTTPError(400)`` for malformed or too deeply nested input, so it can
    be used directly on request bodies. ``max_depth`` is at most
    :data:`MAX_SERIALIZABLE_DEPTH`. The cost is that of ``orjson.loads`` plus,
    only for a body with more than ``max_depth`` brackets, one ``orjson.dumps``
    of the result: both in C, whatever the shape of the document.
    """
    raw = data.encode() if isinstance(data, str) else data
    orjson = _orjson or _load_orjson()
    try:
        if len(raw) > _PAUSE_GC_ABOVE and gc.isenabled():
            gc.disable()
            try:
                value = orjson.loads(raw)
            finally:
                gc.enable()
        else:
            value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson itself refuses more than 1024 levels, as a decode error.
        if "depth" in str(exc):
            raise _too_deep(max_depth) from None
        raise HTTPError(400, "Bad JSON") from None
    if (
        isinstance(value, (list, dict))
        and len(raw) > 2 * max_depth
        and _may_be_deeper(raw, max_depth)
        and _deeper_than(value, max_depth)
    ):
        raise _too_deep(max_depth)
    return value


def _may_be_deeper(raw: bytes, max_depth: int) -> bool:
    """More openers than ``max_depth``: a C-speed count, needed before the exact check.

    Brackets inside strings count too, which only makes the exact check run
    when it was not needed.
    """
    openers = raw.count(b"[")
    return openers > max_depth or openers + raw.count(b"{") > max_depth


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether a parsed document nests more than ``max_depth`` levels.

    ``orjson.dumps`` refuses more than :data:`MAX_SERIALIZABLE_DEPTH` levels,
    at C speed: wrapped in ``MAX_SERIALIZABLE_DEPTH - max_depth`` one-element
    lists, the document fails to serialize exactly when it is deeper than
    ``max_depth``. Everything ``orjson.loads`` returns is serializable
    otherwise (its strings are valid UTF-8, its numbers finite), so the only
    error left is the depth.
    """
    for _ in range(MAX_SERIALIZABLE_DEPTH - max_depth):
        value = [value]
    orjson = _orjson or _load_orjson()
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return True
    return False


def _too_deep(max_depth: int) -> HTTPError:
    return HTTPError(400, f"JSON nested deeper than {max_depth} levels")
