"""Validators and preconditions: ``ETag``, ``Last-Modified``, ``If-None-Match``, ``If-Range``."""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime


def etag_for(result: os.stat_result) -> str:
    """A strong validator from the file's modification time and size.

    Cheap (no read of the content), and it changes whenever the file is
    rewritten. No inode in it: several servers behind one load balancer,
    deployed with the same files and times, give the same ETag, so a client
    revalidating against another server still gets its 304.
    """
    return f'"{result.st_mtime_ns:x}-{result.st_size:x}"'


def http_date(timestamp: float) -> str:
    """``Last-Modified``'s format: ``Wed, 21 Oct 2015 07:28:00 GMT``."""
    return formatdate(timestamp, usegmt=True)


def _parse_date(value: str) -> int | None:
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _opaque(tag: str) -> str:
    tag = tag.strip(" \t")
    return tag[2:] if tag.startswith("W/") else tag


def none_match(header: str, etag: str) -> bool:
    """Whether ``If-None-Match: header`` matches ``etag`` (weak comparison, RFC 9110 §13.1.2)."""
    if header.strip(" \t") == "*":
        return True
    return any(_opaque(tag) == etag for tag in header.split(","))


def not_modified(if_none_match: str | None, if_modified_since: str | None,
                 etag: str, mtime: float) -> bool:
    """Whether a GET or HEAD with these headers gets ``304 Not Modified``.

    ``If-None-Match`` wins when both are present, as RFC 9110 §13.2.2 says;
    an unparsable date is ignored.
    """
    if if_none_match is not None:
        return none_match(if_none_match, etag)
    if if_modified_since is not None:
        since = _parse_date(if_modified_since)
        return since is not None and int(mtime) <= since
    return False


def range_applies(if_range: str | None, etag: str, last_modified: str) -> bool:
    """Whether ``Range`` is honoured given ``If-Range`` (strong comparison, RFC 9110 §13.1.5).

    A tag must equal the current ETag exactly; a date must equal
    ``Last-Modified``. Otherwise the client's partial copy is stale and it gets
    the whole file.
    """
    if if_range is None:
        return True
    value = if_range.strip(" \t")
    if value.startswith(('"', "W/")):
        return value == etag
    return value == last_modified
