"""Server-Sent Events: ``return sse(events)`` from a handler.

``sse`` wraps an iterable of events into an :class:`EventStream`, which the
built-in ``streaming`` plugin sends as ``text/event-stream`` with
``Cache-Control: no-cache``, adding a keep-alive comment whenever the source
stays quiet for ``keepalive`` seconds. :func:`format_event` is the formatter
on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ._streams import as_async_iterator
from .serialization import json_dumps

__all__ = ["Event", "EventStream", "format_event", "sse"]

#: What an event source may yield: text (one ``data`` field), a mapping with the
#: keys of :func:`format_event`, or an :class:`Event`.
EventLike: TypeAlias = "str | Mapping[str, Any] | Event"

_EVENT_KEYS = ("data", "event", "id", "retry", "comment")
_KEEPALIVE = b": keep-alive\n\n"
_END = object()


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event; see :func:`format_event` for the fields."""

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        """The event on the wire (UTF-8), ending with the blank line."""
        return format_event(
            self.data, event=self.event, id=self.id, retry=self.retry, comment=self.comment
        ).encode()


def _single_line(field: str, value: Any) -> str:
    text = str(value)
    if "\r" in text or "\n" in text:
        raise ValueError(
            f"SSE field {field!r} must be a single line, found a line break in {text!r}. "
            "Remove the line break; only 'data' (and 'comment') may span several lines."
        )
    if field == "id" and "\0" in text:
        raise ValueError(f"SSE field 'id' must not contain NUL, found {text!r}.")
    return text


def format_event(
    data: Any = None,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> str:
    """Format one Server-Sent Event.

    ``data`` text is split on line breaks into several ``data:`` lines;
    anything else but ``str`` is sent as JSON. ``event`` and ``id`` must be
    single lines (``ValueError`` otherwise); ``retry`` is the reconnection delay
    in milliseconds, a non-negative ``int``; ``comment`` lines start with ``:``
    and are ignored by browsers.
    """
    lines: list[str] = []
    if comment is not None:
        lines.extend(f": {line}" for line in str(comment).splitlines() or [""])
    if event is not None:
        lines.append(f"event: {_single_line('event', event)}")
    if id is not None:
        lines.append(f"id: {_single_line('id', id)}")
    if retry is not None:
        if not isinstance(retry, int) or isinstance(retry, bool) or retry < 0:
            raise ValueError(
                f"SSE field 'retry' must be a non-negative int (milliseconds), got {retry!r}."
            )
        lines.append(f"retry: {retry}")
    if data is not None:
        text = data if isinstance(data, str) else json_dumps(data).decode()
        lines.extend(f"data: {line}" for line in _split_lines(text))
    if not lines:
        raise ValueError(
            "An SSE event needs at least one of data, event, id, retry or comment."
        )
    return "\n".join(lines) + "\n\n"


def _split_lines(text: str) -> list[str]:
    # Unlike str.splitlines, only CR, LF and CRLF end a line in SSE, and a
    # trailing line break means a final empty line.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _encode(item: Any) -> bytes:
    if isinstance(item, Event):
        return item.encode()
    if isinstance(item, str):
        return format_event(item).encode()
    if isinstance(item, Mapping):
        unknown = [key for key in item if key not in _EVENT_KEYS]
        if unknown:
            raise ValueError(
                f"SSE event has unknown key(s) {unknown!r}; expected some of {_EVENT_KEYS}."
            )
        return format_event(**item).encode()
    raise TypeError(
        f"An SSE source yielded {type(item).__name__}; expected str, a mapping of "
        f"{_EVENT_KEYS} or micropie_core.sse.Event."
    )


class EventStream:
    """An event source, formatted and kept alive; returned by :func:`sse`.

    Async-iterating it gives the bytes to send. Returning it from a handler
    streams it through the built-in ``streaming`` plugin.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterable[Any] | Iterable[Any],
        *,
        keepalive: float | None = 15.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if keepalive is not None and (isinstance(keepalive, bool) or keepalive <= 0):
            raise ValueError(
                f"sse(keepalive=...) must be a positive number of seconds or None, "
                f"got {keepalive!r}."
            )
        if not isinstance(events, (AsyncIterable, Iterable)) or isinstance(
            events, (str, bytes, Mapping)
        ):
            raise TypeError(
                f"sse() expects an iterable or async iterable of events, got "
                f"{type(events).__name__}."
            )
        self.events = events
        self.keepalive = keepalive
        self.headers: list[tuple[str, str]] = [
            ("Cache-Control", "no-cache"),
            ("X-Accel-Buffering", "no"),  # tell nginx-style proxies not to buffer
            *(headers or {}).items(),
        ]

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        source = as_async_iterator(self.events)
        pending: asyncio.Task[Any] | None = None
        try:
            while True:
                pending = asyncio.ensure_future(_next_or_end(source))
                while True:
                    done, _ = await asyncio.wait({pending}, timeout=self.keepalive)
                    if done:
                        break
                    yield _KEEPALIVE
                item = pending.result()
                pending = None
                if item is _END:
                    return
                yield _encode(item)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()


async def _next_or_end(source: AsyncIterator[Any]) -> Any:
    try:
        return await anext(source)
    except StopAsyncIteration:
        return _END


def sse(
    events: AsyncIterable[Any] | Iterable[Any],
    *,
    keepalive: float | None = 15.0,
    headers: Mapping[str, str] | None = None,
) -> EventStream:
    """Stream ``events`` as Server-Sent Events: ``return sse(ticker())``.

    ``events`` is an async or sync iterable (a sync one advances in a worker
    thread) yielding ``str`` (the data), mappings with the keys ``data``,
    ``event``, ``id``, ``retry``, ``comment``, or :class:`Event`. Every
    ``keepalive`` seconds of silence sends a comment line so that proxies keep
    the connection open (``None`` disables it). The response has
    ``Content-Type: text/event-stream`` and ``Cache-Control: no-cache``;
    ``headers`` adds more. Return it in a tuple to set the status.
    """
    return EventStream(events, keepalive=keepalive, headers=headers)
