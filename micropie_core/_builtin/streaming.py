"""Built-in plugin ``streaming``: generators returned by handlers stream the body.

A handler may return an async generator, a sync generator (or any other
iterator that is not a ``list``/``dict``), an async iterable, or
:func:`micropie_core.sse` — alone or as the body of a ``(status, body[,
headers])`` tuple. The body goes out chunk by chunk (``str`` as UTF-8); sync
generators advance in a worker thread. While streaming, the client connection
is watched: a disconnect cancels the generator at once and runs its
``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._streams import as_async_iterator
from ..hookspecs import hookimpl
from ..responses import HTML, encode_extra_headers, encode_header
from ..sse import EventStream
from ..types import Message, RawHeaders, Receive, Scope, Send

if TYPE_CHECKING:
    from ..app import App
    from ..requests import Request

logger = logging.getLogger("micropie")


class StreamingResponse:
    """A response whose body is produced while it is sent.

    ``content`` is an async iterable or a blocking iterator of ``str`` /
    ``bytes`` chunks. No ``Content-Length`` is sent (the server uses chunked
    encoding). ``status_code`` and ``headers`` may be changed until it is sent.
    """

    def __init__(
        self,
        content: AsyncIterable[Any] | Iterator[Any],
        status_code: int = 200,
        headers: list[tuple[str, str]] | None = None,
        media_type: str = HTML,
        *,
        strict: bool = False,
        error_response: Callable[[Exception], Any] | None = None,
    ) -> None:
        self.content = content
        self.status_code = status_code
        self.headers: list[tuple[str, str]] = list(headers or [])
        self.media_type = media_type
        self.strict = strict
        # Turns an exception raised before the first chunk into an error page.
        self.error_response = error_response

    def raw_headers(self) -> RawHeaders:
        """ASGI headers; unsafe ones raise (strict) or are logged and dropped."""
        # No Content-Length: the length of a stream is not known in advance.
        raw, has_type = encode_extra_headers(self.headers, strict=self.strict)
        if not has_type:
            raw.append(encode_header("content-type", self.media_type))
        return raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = as_async_iterator(self.content)
        try:
            start = {"type": "http.response.start", "status": self.status_code,
                     "headers": self.raw_headers()}
            if scope.get("method") == "HEAD":
                await send(start)
                await send({"type": "http.response.body", "body": b""})
                return
            streamer = asyncio.ensure_future(_send_all(chunks, start, send))
            watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
            try:
                await asyncio.wait({streamer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (streamer, watcher):
                    task.cancel()
                await asyncio.wait({streamer, watcher})
            failure = None if streamer.cancelled() else streamer.exception()
            if isinstance(failure, _FailedBeforeHeaders) and self.error_response is not None:
                cause = failure.__cause__
                assert isinstance(cause, Exception)
                await self.error_response(cause)(scope, receive, send)
            elif failure is not None:
                # Headers are gone; ending without the final empty chunk tells the
                # client the body is incomplete.
                logger.error("A streamed response failed after it started",
                             exc_info=failure)
            if not watcher.cancelled():
                watcher.exception()  # a failing receive has nothing more to tell
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()


#: How long the headers of a stream wait for its first chunk (seconds).
FIRST_CHUNK_GRACE = 0.05


class _FailedBeforeHeaders(Exception):
    """The generator raised (``__cause__``) before anything was sent."""


class _HeadersAfterGrace:
    """Sends the response start once the grace period is over, unless stopped first.

    A generator that fails at once (an HTTPError while checking its input, say)
    then gets its error page instead of a 200 with a broken body, and a slow
    stream still gets its headers promptly. The generator itself is always
    advanced by the one streaming task (cancel scopes and timeouts it holds
    across ``yield`` stay in their task); only this send runs in another.
    """

    def __init__(self, start: Message, send: Send) -> None:
        self.start, self.send = start, send
        self.sending = False
        self.task: asyncio.Future[None] | None = asyncio.ensure_future(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(FIRST_CHUNK_GRACE)
        self.sending = True
        await self.send(self.start)

    async def stop(self) -> bool:
        """Prevent the send if it has not begun (True), else wait for it (False)."""
        task, self.task = self.task, None
        if task is None:
            return False
        # The task is forgotten before it ends: its CancelledError's traceback
        # holds _later's frame, whose `self` is this object, and keeping it
        # would make a reference cycle per streamed response (23 objects left
        # to the collector, benchmarks/gc_garbage.py).
        if not self.sending:
            task.cancel()
            await asyncio.wait({task})
            return True
        await task
        return False

    async def now(self) -> None:
        """Make sure the start has been sent."""
        if await self.stop():
            await self.send(self.start)


async def _send_all(chunks: AsyncIterator[Any], start: Message, send: Send) -> None:
    headers = _HeadersAfterGrace(start, send)
    try:
        try:
            chunk = await anext(chunks, _END)
        except Exception as exc:
            if await headers.stop():
                raise _FailedBeforeHeaders from exc
            raise
        await headers.now()
        while chunk is not _END:
            await _send_chunk(chunk, send)
            chunk = await anext(chunks, _END)
        await send({"type": "http.response.body", "body": b""})
    finally:
        task, headers.task = headers.task, None  # forgotten: see _HeadersAfterGrace.stop
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})


_END: Any = object()


async def _send_chunk(chunk: Any, send: Send) -> None:
    if isinstance(chunk, str):
        body = chunk.encode()
    elif isinstance(chunk, (bytes, bytearray, memoryview)):
        body = bytes(chunk)
    else:
        raise TypeError(
            f"A streamed response yielded {type(chunk).__name__}; yield str or bytes."
        )
    if body:
        await send({"type": "http.response.body", "body": body, "more_body": True})
    # Servers drop sends to a gone client without suspending, so a generator
    # that never awaits would starve the disconnect watcher: yield each turn.
    await asyncio.sleep(0)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        # Anything else (a server, or a test double, repeating the body's last
        # message) must not become a loop that never lets the stream run.
        await asyncio.sleep(0)


def is_streamable(value: Any) -> bool:
    """Async iterables and iterators other than the core's own value types."""
    if isinstance(value, (str, bytes, bytearray, dict, list, tuple)):
        return False
    return isinstance(value, (AsyncIterable, Iterator)) or inspect.isgenerator(value)


@hookimpl(trylast=True)
def response_from_value(app: App, request: Request, value: Any) -> StreamingResponse | None:
    """Stream generators, iterators, async iterables and :func:`~micropie_core.sse` values."""
    def error_response(exc: Exception) -> Any:
        return app._response_for_exception(request, exc)

    if isinstance(value, EventStream):
        return StreamingResponse(value, headers=value.headers, media_type=value.media_type,
                                 strict=app.debug, error_response=error_response)
    if is_streamable(value):
        return StreamingResponse(value, strict=app.debug, error_response=error_response)
    return None
