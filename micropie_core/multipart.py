"""Streaming ``multipart/form-data``: the body is parsed while the handler runs.

A :class:`MultipartReader` feeds ASGI ``http.request`` chunks (small ones
merged first) to the ``multipart`` package's push parser in a task of its own.
Text fields go to ``request.body_params``; each file becomes an
:class:`~micropie_core.uploads.UploadedFile` in ``request.files`` that the
handler reads while later parts are still arriving.

The app dispatches as soon as the reader is *ready*: at the first file part
(or at the end of the body if there is none). Before binding, the app waits
for the form fields and files the handler's parameters name
(:meth:`MultipartReader.wait_for`), so a field sent after a file is bound
without deadlock: the file meanwhile spills to disk.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection

import multipart as _mp  # type: ignore[import-untyped]

from .bodies import BodyLimits, ClientDisconnect, TimedReceive, check_declared_length
from .errors import HTTPError
from .requests import Request
from .types import Message
from .uploads import SpoolBudget, UploadClosedError, UploadedFile, UploadedFiles

__all__ = ["MAX_BOUNDARY_LENGTH", "MultipartReader", "parse_boundary"]

#: RFC 2046 §5.1.1: a boundary is 1 to 70 characters.
MAX_BOUNDARY_LENGTH = 70
#: Chunks smaller than this are merged before they reach the parser ...
MERGE_SIZE = 16 * 1024
#: ... if the next one arrives within this many seconds.
MERGE_WAIT = 0.002
_BOUNDARY_PARAM = re.compile(r';\s*boundary\s*=\s*("[^"]*"|[^;]*)', re.IGNORECASE)
_BOUNDARY_CHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")


def parse_boundary(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type (quoted or not); 400 if bad."""
    match = _BOUNDARY_PARAM.search(content_type)
    if match is None:
        raise HTTPError(
            400, "multipart/form-data without a boundary parameter in the Content-Type header"
        )
    boundary = match.group(1).strip()
    if len(boundary) >= 2 and boundary[0] == boundary[-1] == '"':
        boundary = boundary[1:-1]
    if not boundary:
        raise HTTPError(400, "Empty multipart boundary")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise HTTPError(
            400, f"Multipart boundary longer than {MAX_BOUNDARY_LENGTH} characters (RFC 2046)"
        )
    if not _BOUNDARY_CHARS.fullmatch(boundary):
        raise HTTPError(400, "Invalid characters in the multipart boundary (RFC 2046)")
    return boundary.encode("ascii")


def _content_type(headers: list[tuple[str, str]]) -> str:
    """The part's Content-Type as sent, parameters included (as MicroPie reports it).

    The parser's own ``content_type`` drops parameters such as ``charset``.
    """
    for name, value in headers:
        if name.lower() == "content-type" and value.strip():
            return value.strip()
    return "application/octet-stream"


def _copy(error: BaseException) -> BaseException:
    """A fresh exception to raise in one more place (keeps tracebacks apart)."""
    if isinstance(error, HTTPError):
        return HTTPError(error.status_code, error.detail, list(error.headers))
    if isinstance(error, ClientDisconnect):
        return ClientDisconnect()
    return error


class MultipartReader:
    """Parses one multipart body into ``request.body_params`` and ``request.files``.

    ``await start()`` runs the parser until the handler can be dispatched;
    parsing then goes on in the background until the body ends, fails, or
    :meth:`aclose` is called (the app does so when the handler returns).
    """

    def __init__(
        self,
        request: Request,
        timed: TimedReceive,
        *,
        content_type: str,
        limits: BodyLimits,
        max_body_size: int | None,
        declared_length: int | None,
    ) -> None:
        boundary = parse_boundary(content_type)
        check_declared_length(declared_length, max_body_size)
        self._request = request
        self._timed = timed
        self._limits = limits
        self._max_body_size = max_body_size
        self._fields: dict[str, list[str]] = {}
        self._files = UploadedFiles()
        request.body_params = self._fields
        request.files = self._files
        self._budget = SpoolBudget()
        self._parser = _mp.PushMultipartParser(
            boundary,
            max_header_size=limits.max_part_header_size,
            max_header_count=limits.max_part_headers,
        )
        self._received = 0
        self._inflight: asyncio.Future[Message] | None = None  # a receive() being merged
        self._ready = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: True once the whole body was parsed successfully.
        self.done = False
        #: Why parsing stopped early (HTTPError, ClientDisconnect), if it did.
        self.error: BaseException | None = None

    # ------------------------------------------------------------- the app side

    async def start(self) -> None:
        """Parse until the first file part or the end of the body; raise if that fails."""
        self._task = asyncio.create_task(self._run())
        await self._ready.wait()
        if self.error is not None:
            raise _copy(self.error)

    async def wait_for(self, names: Collection[str] | None) -> None:
        """Wait until every field/file in ``names`` arrived, or the body ended.

        ``None`` waits for the end of the body. Raises the error that ended
        the body early, if any.
        """
        while not self.done and self.error is None:
            if names is not None and all(
                n in self._fields or n in self._files for n in names
            ):
                return
            await self._progress.wait()
        if self.error is not None:
            raise _copy(self.error)

    async def aclose(self) -> None:
        """Stop parsing, free memory and delete temporary files (idempotent)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        if not self.done and self.error is None:
            # Whoever waits for the rest of the form (load_form() in a streamed
            # response or a background task) gets an error instead of waiting forever.
            self.error = UploadClosedError(
                "The multipart body was read after its request ended; call "
                "request.load_form() inside the handler, before it returns."
            )
            self._notify()
        for upload in self._files.all():
            upload._close()

    # ---------------------------------------------------------- the parser task

    def _notify(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    def _fail(self, error: BaseException) -> None:
        self.error = error
        for upload in self._files.all():
            upload._fail(error)
        self._ready.set()
        self._notify()

    async def _run(self) -> None:
        try:
            try:
                await self._parse()
            finally:
                await self._drop_inflight()
        except (HTTPError, ClientDisconnect) as exc:
            self._fail(exc)
        except _mp.MultipartError as exc:
            # The message only: some errors also carry the Python exception behind them.
            reason = exc.args[0] if exc.args else type(exc).__name__
            self._fail(HTTPError(400, f"Malformed multipart body: {reason}"))
        except Exception as exc:  # a bug: handlers reading uploads see it (and log a 500)
            self._fail(exc)
        else:
            self.done = True
            self._request._body_pending = False
            self._ready.set()
            self._notify()

    async def _drop_inflight(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.cancel()
            await asyncio.wait({inflight})
            if not inflight.cancelled():
                inflight.exception()  # retrieved: nobody needs it any more

    async def _parse(self) -> None:
        timed = self._timed
        parser = self._parser
        limits = self._limits
        fields, files = self._fields, self._files
        upload: UploadedFile | None = None
        text = bytearray()
        text_name = ""
        parts = file_count = 0
        more = True
        while more:
            chunk, more = await self._next_chunk(timed)
            if parser.closed:
                continue  # the epilogue after the final boundary is ignored
            if not chunk:
                if not more:
                    parser.close()  # raises if the final boundary never came
                continue
            for event in parser.parse(chunk):
                if isinstance(event, bytes):
                    if upload is not None:
                        if not upload._fits(len(event)):
                            await upload._make_room(len(event))
                        upload._feed(event)
                    else:
                        text += event
                        if limits.max_field_size is not None and len(text) > limits.max_field_size:
                            raise HTTPError(
                                413, f"Form field {text_name!r} is larger than the limit of "
                                f"{limits.max_field_size} bytes",
                            )
                elif event is None:
                    if upload is not None:
                        upload._finish()
                        upload = None
                    else:
                        fields.setdefault(text_name, []).append(text.decode("utf-8", "replace"))
                        text = bytearray()
                    self._notify()
                else:
                    parts += 1
                    if parts > limits.max_form_fields:
                        raise HTTPError(
                            413,
                            f"Too many multipart parts (the limit is {limits.max_form_fields})",
                        )
                    if event.filename is None:
                        text_name = event.name or ""
                        continue
                    file_count += 1
                    if file_count > limits.max_files:
                        raise HTTPError(
                            413, f"Too many files (the limit is {limits.max_files})"
                        )
                    headers = list(event.headerlist)
                    upload = UploadedFile(
                        event.name or "",
                        event.filename,
                        _content_type(headers),
                        headers,
                        self._budget,
                    )
                    files._add(upload)
                    self._ready.set()  # the handler may start reading this file now
                    self._notify()
            if not more:
                parser.close()

    async def _next_chunk(self, timed: TimedReceive) -> tuple[bytes, bool]:
        """The next piece of body and whether more follows.

        Small messages are merged (the parser is slow on tiny chunks), but only
        those arriving within ``MERGE_WAIT``: a client that pauses never has
        its last bytes held back from the handler.
        """
        pending = bytearray()
        limit = self._max_body_size
        while True:
            inflight, self._inflight = self._inflight, None
            if not pending:
                message = await inflight if inflight is not None else await timed()
            else:
                if inflight is None:
                    inflight = asyncio.ensure_future(timed())
                done, _ = await asyncio.wait({inflight}, timeout=MERGE_WAIT)
                if not done:
                    self._inflight = inflight
                    return bytes(pending), True
                message = inflight.result()
            body: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            self._received += len(body)
            if limit is not None and self._received > limit:
                raise HTTPError(413, f"Body exceeds the limit of {limit} bytes")
            if not pending and (len(body) >= MERGE_SIZE or not more):
                return body, more
            pending += body
            if len(pending) >= MERGE_SIZE or not more:
                return bytes(pending), more
