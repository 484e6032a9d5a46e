"""``Range: bytes=...`` parsing (RFC 9110 §14): linear time, a bounded number of ranges."""

from __future__ import annotations

#: More ranges than this in one header and the header is ignored (the whole file is sent).
MAX_RANGES = 16
_MAX_DIGITS = 18  # below 2**63; longer numbers are clamped, never handed to int()
_HUGE = 10**18


class Unsatisfiable(Exception):
    """No range of the header overlaps the file: answer ``416`` with ``bytes */size``."""


def _number(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit():
        return None
    return _HUGE if len(text) > _MAX_DIGITS else int(text)


def parse_ranges(header: str, size: int, max_ranges: int = MAX_RANGES
                 ) -> list[tuple[int, int]] | None:
    """The ``(start, end_exclusive)`` byte ranges ``header`` asks of a ``size``-byte file.

    ``None`` means "ignore the header and send the whole file": a unit other
    than ``bytes``, a syntax error, more than ``max_ranges`` ranges, or an
    empty file (RFC 9110 lets a server ignore any Range). Raises
    :class:`Unsatisfiable` when the ranges are well formed but none overlaps
    the file. Overlapping and adjacent ranges are merged and sorted, so a
    response never repeats a byte and is never larger than the file plus the
    part headers. The work is linear in the header's length: one split, one
    pass, and a sort of at most ``max_ranges`` items.
    """
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes" or size <= 0:
        return None
    if spec.count(",") >= max_ranges:
        return None
    wanted: list[tuple[int, int]] = []
    seen = 0
    for part in spec.split(","):
        if not part.strip(" \t"):
            continue  # an empty list element, allowed by the list syntax (RFC 9110 §5.6.1)
        seen += 1
        first, dash, last = part.partition("-")
        if not dash:
            return None
        if not first.strip(" \t"):  # "-N": the last N bytes
            suffix = _number(last)
            if suffix is None:
                return None
            if suffix > 0:
                wanted.append((max(0, size - suffix), size))
            continue
        start = _number(first)
        if start is None:
            return None
        if last.strip(" \t"):
            end = _number(last)
            if end is None or end < start:
                return None
            end = min(end + 1, size)
        else:
            end = size
        if start < size:
            wanted.append((start, end))
    if not seen:
        return None  # "bytes=" alone: a syntax error
    if not wanted:
        raise Unsatisfiable
    wanted.sort()
    merged = [wanted[0]]
    for start, end in wanted[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged
