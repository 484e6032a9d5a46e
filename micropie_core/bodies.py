"""Reading request bodies within limits, and parsing urlencoded and JSON bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator
from typing import Any, NamedTuple

from .errors import HTTPError
from .requests import Request, parse_urlencoded
from .serialization import MAX_SERIALIZABLE_DEPTH, json_loads
from .types import Message, Receive

KiB = 1024
MiB = 1024 * 1024
#: Default ``max_body_size`` (MicroPie's name and value).
DEFAULT_MAX_BODY_SIZE: int = 16 * MiB
#: Default ``max_form_field_size``: one multipart text field (MicroPie's name and value).
DEFAULT_MAX_FORM_FIELD_SIZE: int = 1 * MiB


class ClientDisconnect(Exception):
    """The client went away before the request body was complete."""


class BodyLimits(NamedTuple):
    """Limits on request bodies; every one is an ``App(...)`` keyword argument.

    ``body_timeout`` is the longest wait for each chunk of the body (MicroPie's
    meaning), ``body_total_timeout`` the time allowed for the whole body.
    ``max_form_fields`` counts urlencoded fields, multipart parts and query
    string fields alike; ``max_json_depth`` is at most 254 (what orjson can
    serialize back); ``max_files``, ``max_field_size`` (one multipart text
    field; MicroPie's ``max_form_field_size``), ``max_part_header_size`` (one
    header line of a part) and ``max_part_headers`` (header lines per part)
    apply to ``multipart/form-data`` bodies. ``None`` disables a size limit or
    timeout. Build it with :meth:`checked`, which refuses impossible values.
    """

    # A NamedTuple, not a frozen dataclass: as immutable, and 0.3 ms to define at
    # import instead of 1.5 ms (the dataclass decorator compiles its methods).

    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE
    max_form_fields: int = 1000
    max_json_depth: int = 200
    body_timeout: float | None = 10.0
    body_total_timeout: float | None = 60.0
    max_files: int = 100
    max_field_size: int | None = DEFAULT_MAX_FORM_FIELD_SIZE
    max_part_header_size: int = 4 * KiB
    max_part_headers: int = 8

    @classmethod
    def checked(cls, **given: Any) -> BodyLimits:
        """The limits given (defaults for the rest); ``ValueError`` names a bad one."""
        limits = cls(**given)
        for name in ("max_body_size", "body_timeout", "body_total_timeout", "max_field_size"):
            value = getattr(limits, name)
            if value is not None and (isinstance(value, bool) or value <= 0):
                raise ValueError(
                    f"App({name}=...) must be a positive number or None, got {value!r}."
                )
        for name in ("max_form_fields", "max_json_depth", "max_files",
                     "max_part_header_size", "max_part_headers"):
            value = getattr(limits, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"App({name}=...) must be a positive int, got {value!r}.")
        if limits.max_json_depth > MAX_SERIALIZABLE_DEPTH:
            raise ValueError(
                f"App(max_json_depth=...) must be at most {MAX_SERIALIZABLE_DEPTH}, the "
                f"deepest JSON the serializer (orjson) can write back, got "
                f"{limits.max_json_depth}; use max_json_depth={MAX_SERIALIZABLE_DEPTH} or less."
            )
        return limits


def is_json_type(media_type: str) -> bool:
    """``application/json`` and ``application/<anything>+json``."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_body(
    timed: TimedReceive, *, declared_length: int | None, limit: int | None
) -> bytes:
    """Receive the whole body through ``timed``, enforcing the size limit.

    The declared ``Content-Length`` is checked before anything is read; the bytes
    actually received are counted too, so a lying or chunked client is caught.
    """
    check_declared_length(declared_length, limit)
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

    The total timeout runs from ``started`` (default: construction); the idle
    timeout from each call. ``first`` is a message already received (see
    :func:`first_message`), returned by the first call. Raises ``HTTPError(408)``
    on a timeout and :class:`ClientDisconnect` when the client went away.
    """

    __slots__ = ("_deadline", "_first", "_idle", "_loop", "_receive")

    def __init__(
        self, receive: Receive, total_timeout: float | None, idle_timeout: float | None,
        *, first: Message | None = None, started: float | None = None,
    ) -> None:
        self._receive = receive
        self._loop = asyncio.get_running_loop()
        if started is None:
            started = self._loop.time()
        self._deadline = started + total_timeout if total_timeout is not None else None
        self._idle = idle_timeout
        self._first = first

    async def __call__(self) -> Message:
        first = self._first
        if first is not None:
            self._first = None
            return first
        return await _next_message(self._receive, self._loop, self._deadline, self._idle)


async def first_message(
    receive: Receive, total_timeout: float | None, idle_timeout: float | None
) -> tuple[Message, float | None]:
    """The first message of a request without framing headers, and when the wait began.

    An HTTP/2 or HTTP/3 request may carry a body without ``Content-Length``, so
    only its first ``http.request`` message tells whether there is one (see
    :func:`is_whole_and_empty`). Pass both results on to :class:`TimedReceive`
    (``first=``, ``started=``) to read the rest. The start is ``None`` when the
    message was there at once.
    """
    # Stepped by hand, as in _next_message, and without even reading the clock
    # when the message is ready: this is the whole cost an HTTP/2 GET pays.
    waiting = receive().__await__()
    try:
        signal = next(waiting)
    except StopIteration as ready:
        message: Message = ready.value
        started = None
    else:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + total_timeout if total_timeout is not None else None
        message = await _wait(waiting, signal, loop, deadline, idle_timeout)
    if message["type"] == "http.disconnect":
        raise ClientDisconnect
    return message, started


def is_whole_and_empty(message: Message) -> bool:
    """True for the one message of a request that has no body."""
    return not message.get("body") and not message.get("more_body", False)


async def _next_message(
    receive: Receive, loop: asyncio.AbstractEventLoop, deadline: float | None,
    idle: float | None,
) -> Message:
    # A message the server already has is taken without arming a timer:
    # asyncio.timeout_at() around a ready receive() measured 9-14 us under uvloop,
    # more than a whole in-process HTTP/2 GET (~4 us), whose one empty message is
    # always ready (see first_message). Only a receive() that has to wait runs
    # under the timeouts.
    waiting = receive().__await__()
    try:
        signal = next(waiting)
    except StopIteration as ready:
        message: Message = ready.value
        if deadline is not None and loop.time() > deadline:
            raise HTTPError(408, "Timed out receiving the request body") from None
    else:
        message = await _wait(waiting, signal, loop, deadline, idle)
    if message["type"] == "http.disconnect":
        raise ClientDisconnect
    return message


async def _wait(
    waiting: Iterator[Any], signal: Any, loop: asyncio.AbstractEventLoop,
    deadline: float | None, idle: float | None,
) -> Message:
    """Finish a ``receive()`` that had to wait, within the deadline and the idle timeout."""
    wake = deadline
    if idle is not None:
        idle_deadline = loop.time() + idle
        wake = idle_deadline if wake is None else min(wake, idle_deadline)
    try:
        async with asyncio.timeout_at(wake):
            return await _Resumed(waiting, signal)
    except TimeoutError:
        raise HTTPError(408, "Timed out receiving the request body") from None


class _Resumed:
    """Awaiting it goes on with an awaitable's iterator that already yielded ``signal``.

    What ``await`` does itself (``yield from``, PEP 380), split in two so that
    the first step can be taken outside a timeout: values sent and exceptions
    thrown in (the task's wake-ups, a timeout's cancellation) pass through. As
    with ``yield from``, the iterator needs only ``__next__`` (servers written in
    Rust, such as granian, hand out such awaitables); ``send``, ``throw`` and
    ``close`` are used when it has them.
    """

    __slots__ = ("_iterator", "_signal")

    def __init__(self, iterator: Iterator[Any], signal: Any) -> None:
        self._iterator = iterator
        self._signal = signal

    def __await__(self) -> Generator[Any, Any, Message]:
        iterator, signal = self._iterator, self._signal
        send = getattr(iterator, "send", None)
        while True:
            try:
                sent = yield signal
            except GeneratorExit:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
                raise
            except BaseException as exc:
                throw = getattr(iterator, "throw", None)
                if throw is None:
                    raise
                try:
                    signal = throw(exc)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
            else:
                try:
                    signal = next(iterator) if sent is None or send is None else send(sent)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]


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
