"""Reading request bodies within limits, and parsing urlencoded and JSON bodies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .errors import HTTPError
from .requests import Request, parse_urlencoded
from .serialization import json_loads
from .types import Message, Receive

KiB = 1024
MiB = 1024 * 1024
#: Default ``max_body_size`` (MicroPie's name and value).
DEFAULT_MAX_BODY_SIZE: int = 16 * MiB
#: Default ``max_form_field_size``: one multipart text field (MicroPie's name and value).
DEFAULT_MAX_FORM_FIELD_SIZE: int = 1 * MiB


class ClientDisconnect(Exception):
    """The client went away before the request body was complete."""


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Limits on request bodies; every one is an ``App(...)`` keyword argument.

    ``body_timeout`` is the longest wait for each chunk of the body (MicroPie's
    meaning), ``body_total_timeout`` the time allowed for the whole body.
    ``max_form_fields`` counts urlencoded fields and multipart parts alike;
    ``max_files``, ``max_field_size`` (one multipart text field; MicroPie's
    ``max_form_field_size``), ``max_part_header_size`` (one header line of a
    part) and ``max_part_headers`` (header lines per part) apply to
    ``multipart/form-data`` bodies. ``None`` disables a size limit or timeout.
    """

    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE
    max_form_fields: int = 1000
    max_json_depth: int = 512
    body_timeout: float | None = 10.0
    body_total_timeout: float | None = 60.0
    max_files: int = 100
    max_field_size: int | None = DEFAULT_MAX_FORM_FIELD_SIZE
    max_part_header_size: int = 4 * KiB
    max_part_headers: int = 8

    def __post_init__(self) -> None:
        for name in ("max_body_size", "body_timeout", "body_total_timeout", "max_field_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value <= 0):
                raise ValueError(
                    f"App({name}=...) must be a positive number or None, got {value!r}."
                )
        for name in ("max_form_fields", "max_json_depth", "max_files",
                     "max_part_header_size", "max_part_headers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"App({name}=...) must be a positive int, got {value!r}.")


def is_json_type(media_type: str) -> bool:
    """``application/json`` and ``application/<anything>+json``."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_body(
    receive: Receive,
    *,
    declared_length: int | None,
    limit: int | None,
    chunk_timeout: float | None,
    total_timeout: float | None,
) -> bytes:
    """Receive the whole body, enforcing the size limit and both timeouts.

    The declared ``Content-Length`` is checked before anything is read; the bytes
    actually received are counted too, so a lying or chunked client is caught.
    """
    check_declared_length(declared_length, limit)
    timed = TimedReceive(receive, chunk_timeout, total_timeout)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await timed()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if limit is not None and size > limit:
                raise HTTPError(413, f"Body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_declared_length(declared_length: int | None, limit: int | None) -> None:
    """413 when the declared ``Content-Length`` is already over ``limit``."""
    if limit is not None and declared_length is not None and declared_length > limit:
        raise HTTPError(413, f"Body of {declared_length} bytes exceeds the limit of {limit} bytes")


class TimedReceive:
    """``await timed()``: the next ``http.request`` message, within the body timeouts.

    The chunk timeout runs from each call; the total timeout from construction.
    Raises ``HTTPError(408)`` on a timeout and :class:`ClientDisconnect` when the
    client went away.
    """

    __slots__ = ("_deadline", "_idle", "_loop", "_receive")

    def __init__(
        self, receive: Receive, chunk_timeout: float | None, total_timeout: float | None
    ) -> None:
        self._receive = receive
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + total_timeout if total_timeout is not None else None
        self._idle = chunk_timeout

    async def __call__(self) -> Message:
        wake = self._deadline
        if self._idle is not None:
            idle_deadline = self._loop.time() + self._idle
            wake = idle_deadline if wake is None else min(wake, idle_deadline)
        try:
            async with asyncio.timeout_at(wake):
                message = await self._receive()
        except TimeoutError:
            raise HTTPError(408, "Timed out receiving the request body") from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        return message


def parse_body(request: Request, body: bytes, media_type: str, limits: BodyLimits) -> None:
    """Store ``body`` on the request and parse it if its type is JSON or a form."""
    request._body = body
    if is_json_type(media_type):
        if body.strip():
            request._json = json_loads(body, max_depth=limits.max_json_depth)
    elif media_type == "application/x-www-form-urlencoded":
        try:
            request.body_params = parse_urlencoded(
                body.decode("utf-8", "replace"), max_fields=limits.max_form_fields
            )
        except ValueError:
            raise HTTPError(
                413, f"Too many form fields (the limit is {limits.max_form_fields})"
            ) from None
    request.body_parsed = True
