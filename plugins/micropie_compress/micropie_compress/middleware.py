"""``CompressMiddleware``: compress HTTP responses the client accepts compressed.

It only ever touches what the app *sends*. Request bodies pass through as
they came, whatever their ``Content-Encoding``: nothing is inflated, so a
small compressed upload cannot expand into a huge one (no decompression bomb).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from micropie_core.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

from .encodings import Coding, Stream, choose
from .policy import COMPRESSIBLE, SCOPE_KEY, SENSITIVE, skipped_type

#: Bodies above this are compressed in a worker thread, so the event loop keeps
#: serving other requests meanwhile (gzip runs at roughly 50-100 MB/s).
THREAD_THRESHOLD = 256 * 1024
_NO_BODY_STATUSES = frozenset({204, 206, 304})


@dataclass(frozen=True)
class Options:
    """The plugin's settings, checked once at construction."""

    codings: Sequence[Coding]
    minimum_size: int
    skip_types: tuple[str, ...]
    compress_streams: bool
    compress_private: bool
    buffer_limit: int
    private_cookies: tuple[str, ...]


class CompressMiddleware:
    """ASGI middleware: pick a coding from ``Accept-Encoding`` and compress the response.

    Left alone: responses below ``minimum_size``, of an already-compressed
    type, with a ``Content-Encoding`` or ``Cache-Control: no-transform``,
    ``206``/``204``/``304``/1xx responses, streamed responses (no
    ``Content-Length``, or one above ``buffer_limit``) unless
    ``compress_streams``, and responses at risk of BREACH (see
    :mod:`micropie_compress.policy`). Every response whose type could be
    compressed gets ``Vary: Accept-Encoding``.
    """

    def __init__(self, inner: ASGIApp, options: Options) -> None:
        self.inner = inner
        self.options = options
        names = "|".join(re.escape(name) for name in options.private_cookies) or "(?!)"
        # One C-level scan of the Cookie header for "name=" at a cookie boundary.
        self._private_cookie = re.compile(rf"(?:^|[;,])[ \t]*(?:{names})=".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        accept: bytes | None = None
        private = False
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value if accept is None else accept + b"," + value
            elif name == b"authorization":
                private = True
            elif name == b"cookie" and not private:
                private = self._private_cookie.search(value) is not None
        coding = choose(accept.decode("latin-1"), self.options.codings) if accept else None
        responder = _Responder(self.options, scope, send, coding, private)
        await self.inner(scope, receive, responder.send)


_PASS, _DECIDE, _HOLD, _STREAM, _BUFFER = range(5)


class _Responder:
    """The ``send`` the app sees: a small state machine over one response's messages."""

    __slots__ = ("buffered", "coding", "downstream", "length", "options", "private", "scope",
                 "start", "state", "stream")

    def __init__(self, options: Options, scope: Scope, send: Send, coding: Coding | None,
                 private: bool) -> None:
        self.options = options
        self.scope = scope
        self.downstream = send
        self.coding = coding
        self.private = private
        self.state = _DECIDE
        self.start: Message | None = None
        self.stream: Stream | None = None
        self.length: int | None = None  # the response's Content-Length, if it has one
        self.buffered: list[bytes] = []

    async def send(self, message: Message) -> None:
        state = self.state
        if state == _PASS:
            await self.downstream(message)
        elif state == _DECIDE:
            if message["type"] != "http.response.start":
                await self.downstream(message)
                return
            self.state = self._decide(message)
            if self.state == _PASS:
                await self.downstream(message)
            else:
                self.start = message
        elif state == _HOLD:
            await self._first_body(message)
        elif state == _BUFFER:
            await self._buffer_body(message)
        else:
            await self._stream_body(message)

    def _decide(self, start: Message) -> int:
        """Whether this response may be compressed: ``_HOLD`` it, or ``_PASS`` it on."""
        status = start["status"]
        if status < 200 or status in _NO_BODY_STATUSES:
            return _PASS
        media_type = ""
        public = sets_cookie = False
        vary: list[bytes] = []
        for name, value in start.get("headers", ()):
            name = name.lower()
            if name == b"content-encoding":
                return _PASS
            if name == b"content-type":
                media_type = value.split(b";", 1)[0].strip().lower().decode("latin-1")
            elif name == b"cache-control":
                directives = value.lower()
                if b"no-transform" in directives:
                    return _PASS
                public = public or b"public" in directives
            elif name == b"set-cookie":
                sets_cookie = True
            elif name == b"vary":
                vary.append(value.lower())
            elif name == b"content-length" and value.isdigit():
                self.length = int(value)
        if not media_type or skipped_type(media_type, self.options.skip_types):
            return _PASS
        if not any(b"accept-encoding" in v or v.strip() == b"*" for v in vary):
            start["headers"] = [*start.get("headers", ()), (b"vary", b"Accept-Encoding")]
        if self.coding is None:
            return _PASS
        marker = self.scope.get(SCOPE_KEY)
        if marker == SENSITIVE:
            return _PASS
        if (marker != COMPRESSIBLE and (self.private or sets_cookie) and not public
                and not self.options.compress_private):
            return _PASS
        return _HOLD

    async def _first_body(self, message: Message) -> None:
        start = self.start
        assert start is not None and self.coding is not None
        if message["type"] != "http.response.body":  # zerocopysend/pathsend: not ours to touch
            self.state = _PASS
            await self.downstream(start)
            await self.downstream(message)
            return
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            length = self.length
            if length is not None and self.options.minimum_size <= length <= \
                    self.options.buffer_limit:
                # A body of known size sent in chunks (a static file) is no stream:
                # gather it (bounded by buffer_limit) and compress it whole.
                self.state = _BUFFER
                self.buffered.append(body)
                return
            if not self.options.compress_streams:
                self.state = _PASS
                await self.downstream(start)
                await self.downstream(message)
                return
            self.state = _STREAM
            self.stream = stream = self.coding.stream()
            start["headers"] = _encoded_headers(start["headers"], self.coding.name, None)
            await self.downstream(start)
            await self.downstream({"type": "http.response.body",
                                   "body": stream.write(body) if body else b"",
                                   "more_body": True})
            return
        await self._whole_body(start, message)

    async def _buffer_body(self, message: Message) -> None:
        start = self.start
        assert start is not None
        if message["type"] != "http.response.body":
            raise RuntimeError(f"{message['type']!r} in the middle of a response body")
        self.buffered.append(message.get("body", b""))
        more = message.get("more_body", False)
        size = sum(len(part) for part in self.buffered)
        if size > self.options.buffer_limit:  # more than Content-Length said: hand it on
            self.state = _PASS
            await self.downstream(start)
            await self.downstream({"type": "http.response.body",
                                   "body": b"".join(self.buffered), "more_body": more})
            return
        if not more:
            body = b"".join(self.buffered)
            self.buffered = []
            await self._whole_body(start, {"type": "http.response.body", "body": body})

    async def _whole_body(self, start: Message, message: Message) -> None:
        """Compress a complete body (unless it is too small or does not shrink) and send it."""
        assert self.coding is not None
        body: bytes = message.get("body", b"")
        self.state = _PASS
        if len(body) < self.options.minimum_size:
            await self.downstream(start)
            await self.downstream(message)
            return
        if len(body) > THREAD_THRESHOLD:
            compressed = await asyncio.get_running_loop().run_in_executor(
                None, self.coding.compress, body)
        else:
            compressed = self.coding.compress(body)
        if len(compressed) >= len(body):  # incompressible after all: send it as it is
            await self.downstream(start)
            await self.downstream(message)
            return
        start["headers"] = _encoded_headers(start["headers"], self.coding.name, len(compressed))
        await self.downstream(start)
        await self.downstream({"type": "http.response.body", "body": compressed})

    async def _stream_body(self, message: Message) -> None:
        stream = self.stream
        if message["type"] != "http.response.body" or stream is None:
            await self.downstream(message)
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        data = stream.write(body) if body else b""
        if not more:
            data += stream.finish()
            self.state = _PASS
        await self.downstream({"type": "http.response.body", "body": data, "more_body": more})


def _encoded_headers(headers: RawHeaders, coding: str, length: int | None) -> RawHeaders:
    """The response headers once the body is compressed with ``coding``.

    ``Content-Length`` is the compressed length (none for a stream); a strong
    ``ETag`` becomes weak, since the bytes differ from the identity
    representation's; ``Accept-Ranges`` goes, as ranges of a compressed body
    would not be the ranges the client asked for.
    """
    rewritten: RawHeaders = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in (b"content-length", b"accept-ranges"):
            continue
        if lowered == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        rewritten.append((name, value))
    rewritten.append((b"content-encoding", coding.encode()))
    if length is not None:
        rewritten.append((b"content-length", str(length).encode()))
    return rewritten
