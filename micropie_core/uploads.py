"""Uploaded files: a stream of bytes that arrives while the handler runs.

Each file of a ``multipart/form-data`` body is an :class:`UploadedFile`. Its
bytes are pushed in by the multipart reader (:mod:`micropie_core.multipart`)
and pulled out by the handler. Memory stays bounded whatever the handler does:
all files of one request share a small in-memory budget, and a file whose
reader falls behind spills to an anonymous temporary file (one that has no
name on disk, so it can never be left behind), returning to memory once the
reader catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from .errors import HTTPError

__all__ = ["UploadContent", "UploadedFile", "UploadedFiles"]

#: Bytes of file content one request may hold in memory before spilling to disk.
SPOOL_MEMORY = 1024 * 1024
#: How long a full budget waits for a reading handler before spilling to disk.
SPILL_GRACE = 0.05
#: Largest chunk returned when reading back spilled content.
READ_CHUNK = 64 * 1024

_MICROPIE_KEYS = ("filename", "content_type", "content")


class UploadClosedError(RuntimeError):
    """An upload was read after the request that carried it was finished."""


class MultipartFileError(HTTPError):
    """Reading an upload whose body did not complete: malformed, over a limit or too slow.

    MicroPie's name for it. It is an :class:`HTTPError` with the status the
    request answers when the handler lets it propagate (400, 408 or 413);
    ``cause`` is the error that ended the body.
    """

    def __init__(self, cause: HTTPError) -> None:
        super().__init__(cause.status_code, cause.detail, list(cause.headers))
        self.cause = cause


class SpoolBudget:
    """The in-memory byte budget shared by every file of one request."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int = SPOOL_MEMORY) -> None:
        self.limit = limit
        self.used = 0


class UploadedFile:
    """One uploaded file, readable while the rest of the body is still arriving.

    Read it exactly once, in whichever style suits you::

        data = await upload.read()                 # everything (mind the size)
        async for chunk in upload: ...             # chunk by chunk
        size = await upload.save("/srv/x.bin")     # straight to a path you choose
        chunk = await upload.read_chunk()          # bytes..., then None
        chunk = await upload.content.get()         # the same, MicroPie style

    ``filename`` is kept exactly as the client sent it and is never used as a
    path by the framework. MicroPie's dict shape keeps working:
    ``upload["filename"]``, ``upload["content_type"]``, ``upload["content"]``.

    Reading raises the error that ended the body early: :class:`MultipartFileError`
    (an :class:`HTTPError`: malformed body, a limit or a timeout, with the status
    to answer), or ``ClientDisconnect`` when the client went away.
    """

    def __init__(
        self,
        name: str,
        filename: str,
        content_type: str,
        headers: list[tuple[str, str]],
        budget: SpoolBudget,
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        #: Bytes received so far (the final size once the part is complete).
        self.size = 0
        self._budget = budget
        self._chunks: deque[bytes] = deque()
        self._in_memory = 0
        self._file: IO[bytes] | None = None
        self._spilling = False
        self._write_pos = 0
        self._read_pos = 0
        self._complete = False
        self._finished_reading = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._last_read = self._loop.time()  # a new file gets SPILL_GRACE to be read

    # ------------------------------------------------------------ MicroPie shape

    @property
    def content(self) -> UploadContent:
        """MicroPie's queue-like view: ``await content.get()`` → bytes chunks, then ``None``."""
        return UploadContent(self)

    def __getitem__(self, key: str) -> Any:
        if key not in _MICROPIE_KEYS:
            raise KeyError(
                f"{key!r}: an uploaded file has the keys 'filename', 'content_type' "
                "and 'content' (or use the attributes of UploadedFile)."
            )
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in _MICROPIE_KEYS

    def keys(self) -> tuple[str, ...]:
        """The MicroPie dict keys: ``filename``, ``content_type``, ``content``."""
        return _MICROPIE_KEYS

    def get(self, key: str, default: Any = None) -> Any:
        """MicroPie's ``file.get(key, default)``: a dict key's value, else ``default``."""
        return getattr(self, key) if key in _MICROPIE_KEYS else default

    def __repr__(self) -> str:
        return (
            f"<UploadedFile name={self.name!r} filename={self.filename!r} "
            f"content_type={self.content_type!r}>"
        )

    # ------------------------------------------------------------------ reading

    @property
    def complete(self) -> bool:
        """True once the whole part has arrived (``size`` is then final)."""
        return self._complete

    async def read_chunk(self) -> bytes | None:
        """The next chunk of content, or ``None`` at the end (same as ``content.get()``)."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._in_memory -= len(chunk)
                self._budget.used -= len(chunk)
                self._read()
                return chunk
            if self._spilling:
                assert self._file is not None
                if self._read_pos < self._write_pos:
                    size = min(READ_CHUNK, self._write_pos - self._read_pos)
                    chunk = os.pread(self._file.fileno(), size, self._read_pos)
                    self._read_pos += len(chunk)
                    self._read()
                    return chunk
                # Caught up with the writer: back to memory, reuse the file from 0.
                self._spilling = False
                self._read_pos = self._write_pos = 0
            if self._error is not None:
                if isinstance(self._error, HTTPError):
                    raise MultipartFileError(self._error)
                raise self._error
            if self._complete:
                self._finished_reading = True
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while (chunk := await self.read_chunk()) is not None:
            yield chunk

    async def read(self) -> bytes:
        """The rest of the content as one ``bytes`` (it all ends up in memory)."""
        return b"".join([chunk async for chunk in self])

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Write the rest of the content to ``path`` (created or truncated); return its size.

        Only ``path`` is written: the client's ``filename`` plays no part.
        Disk writes run in a worker thread, a batch of chunks at a time. If the
        upload fails midway (client gone, a limit, a malformed body), ``path``
        is removed, so a truncated file is never left looking like an upload.
        """
        target = Path(path)
        handle = await asyncio.to_thread(target.open, "wb")
        written = 0
        try:
            batch: list[bytes] = []
            batched = 0
            async for chunk in self:
                batch.append(chunk)
                batched += len(chunk)
                if batched >= SPOOL_MEMORY // 2:
                    await asyncio.to_thread(handle.writelines, batch)
                    written += batched
                    batch, batched = [], 0
            if batch:
                await asyncio.to_thread(handle.writelines, batch)
                written += batched
        except BaseException:
            # Shielded: a cancelled handler still gets the partial file removed.
            await asyncio.shield(asyncio.to_thread(_discard, handle, target))
            raise
        await asyncio.to_thread(handle.close)
        return written

    # ---------------------------------------------- producer side (the reader)

    def _read(self) -> None:
        self._last_read = self._loop.time()
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    def _fits(self, size: int) -> bool:
        """Whether ``size`` more bytes can go to memory, within the request's budget.

        Never while the temporary file has unread bytes (order is kept by
        finishing it first); once the handler has read it all, back to memory.
        """
        if self._spilling:
            if self._read_pos < self._write_pos:
                return False
            self._spilling = False
            self._read_pos = self._write_pos = 0
        return self._budget.used + size <= self._budget.limit

    async def _make_room(self, size: int) -> None:
        """Backpressure: wait while a reading handler catches up.

        Returns when ``size`` bytes fit, at once if this file has nothing
        unread (waiting would free nothing), or when the handler has not read
        for ``SPILL_GRACE`` seconds: then :meth:`_feed` spills to disk.
        """
        loop = self._loop
        while not self._fits(size):
            unread = self._in_memory + self._write_pos - self._read_pos
            deadline = self._last_read + SPILL_GRACE
            if not unread or loop.time() >= deadline:
                return
            self._room = loop.create_future()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._room
            except TimeoutError:
                return
            finally:
                self._room = None

    def _feed(self, chunk: bytes) -> None:
        if not chunk:
            return  # an empty chunk would end MicroPie's `while chunk := ...get()` loop
        self.size += len(chunk)
        budget = self._budget
        if not self._spilling and budget.used + len(chunk) <= budget.limit:
            self._chunks.append(chunk)
            self._in_memory += len(chunk)
            budget.used += len(chunk)
        else:
            if self._file is None:
                # Imported on the first spill, which most requests never reach:
                # tempfile (with shutil, random) was 7 of 56 ms that `import
                # micropie_core` adds after asyncio (-X importtime, bytecode cached).
                import tempfile

                # Closed in _close(); anonymous, so nothing is left on disk.
                self._file = tempfile.TemporaryFile(prefix="micropie-upload-")  # noqa: SIM115
            self._spilling = True
            os.pwrite(self._file.fileno(), chunk, self._write_pos)
            self._write_pos += len(chunk)
        self._wake()

    def _finish(self) -> None:
        self._complete = True
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if not self._complete and self._error is None:
            self._error = error
            self._wake()

    def _close(self) -> None:
        """Free memory and the temporary file; later reads raise :class:`UploadClosedError`."""
        self._budget.used -= self._in_memory
        self._in_memory = 0
        self._chunks.clear()
        self._spilling = False
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._finished_reading and self._error is None:
            self._error = UploadClosedError(
                f"Upload {self.name!r} ({self.filename!r}) was read after its request ended; "
                "read uploads inside the handler (not in a streamed response or a "
                "background task), or save() them first."
            )
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _discard(handle: IO[bytes], target: Path) -> None:
    """Close and remove a partly written file; never raises (the upload error matters)."""
    with contextlib.suppress(OSError):
        handle.close()
    with contextlib.suppress(OSError):
        target.unlink(missing_ok=True)


class UploadContent:
    """MicroPie's ``files[name]["content"]``: ``await get()`` gives chunks, then ``None``."""

    __slots__ = ("_upload",)

    def __init__(self, upload: UploadedFile) -> None:
        self._upload = upload

    async def get(self) -> bytes | None:
        """The next chunk of the file, or ``None`` at the end."""
        return await self._upload.read_chunk()


class UploadedFiles(dict[str, Any]):
    """``request.files``: the first file of each field name, plus :meth:`getlist`.

    ``files[name]`` is the first file sent under ``name`` (as form fields give
    their first value); ``files.getlist(name)`` gives every one of them, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self._all: dict[str, list[UploadedFile]] = {}

    @classmethod
    def of(cls, files: dict[str, Any]) -> UploadedFiles:
        """Wrap a plain ``{name: file}`` dict (as middleware may assign)."""
        wrapped = cls()
        for name, upload in files.items():
            wrapped[name] = upload
            wrapped._all[name] = [upload]
        return wrapped

    def _add(self, upload: UploadedFile) -> None:
        self._all.setdefault(upload.name, []).append(upload)
        self.setdefault(upload.name, upload)

    def getlist(self, name: str) -> list[UploadedFile]:
        """Every file sent under ``name`` so far, in the order they arrived."""
        return list(self._all.get(name, ()))

    def all(self) -> list[UploadedFile]:
        """Every file of the request, in the order they arrived."""
        return [upload for uploads in self._all.values() for upload in uploads
                if isinstance(upload, UploadedFile)]
