"""``StaticFiles``: the ASGI wrapper that answers requests under the prefix from disk."""

from __future__ import annotations

import asyncio
import os
import secrets
from urllib.parse import quote

from micropie_core import App, Request
from micropie_core.types import ASGIApp, RawHeaders, Receive, Scope, Send

from ._conditional import etag_for, http_date, not_modified, range_applies
from ._paths import IS_DIRECTORY, Found, open_file, safe_segments
from ._ranges import Unsatisfiable, parse_ranges
from .site import StaticSite

#: Bytes per ``http.response.body`` message. Kept below glibc's mmap threshold
#: (128 KiB): bigger buffers are fresh mmaps, zeroed and faulted in on every read,
#: which on a loaded machine cut 1 MiB responses to 0.56x of 64 KiB ones
#: (static_bench.py, same run).
CHUNK = 64 * 1024
#: Chunks read per worker-thread call: fewer thread hops, memory per response
#: still bounded (256 KiB).
READ_AHEAD = 4
_ZEROCOPY = "http.response.zerocopysend"
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None) if hasattr(os, "preadv") else None
_ALLOW = [("Allow", "GET, HEAD")]


class StaticFiles:
    """Serve ``site.prefix`` from the site's directories; pass everything else to ``inner``.

    Only ``GET`` and ``HEAD`` are answered (others get ``405``). Lookups,
    opens and reads run in the event loop's default thread pool; a server
    offering ``http.response.zerocopysend`` gets the file descriptor instead
    of the bytes.
    """

    def __init__(self, inner: ASGIApp, app: App, site: StaticSite) -> None:
        self.inner = inner
        self.app = app
        self.site = site
        self.prefix = site.prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if root_path and path.startswith(root_path) and path[len(root_path):][:1] in ("/",
                                                                                        ""):
                # ASGI 3 servers (uvicorn --root-path) put the prefix in path: the
                # core routes without it (routing.path_segments), so do we.
                path = path[len(root_path):]
            prefix = self.prefix
            if path.startswith(prefix):
                if len(path) == len(prefix):  # the prefix itself: a directory without "/"
                    await self.serve(scope, receive, send, None)
                    return
                if path[len(prefix)] == "/":
                    await self.serve(scope, receive, send, path[len(prefix) + 1:])
                    return
        await self.inner(scope, receive, send)

    async def serve(self, scope: Scope, receive: Receive, send: Send,
                    relative: str | None) -> None:
        """Answer one request for ``relative``, the URL path below ``prefix/``.

        ``None`` is the prefix itself, without the slash.
        """
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            # Any request body is left unread: the connection must not be reused.
            await self._error(scope, receive, send, 405, [*_ALLOW, ("Connection", "close")])
            return
        if relative is None:
            relative, trailing_slash = "", False
        else:
            trailing_slash = not relative or relative.endswith("/")
        if relative.endswith("/"):
            relative = relative[:-1]
        segments = safe_segments(relative) if relative else []
        if segments is None:
            await self._error(scope, receive, send, 404)
            return
        conditions: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _CONDITION_HEADERS:
                conditions[name] = value.decode("latin-1")
        zerocopy = _ZEROCOPY in (scope.get("extensions") or ())
        # The whole body is read in the lookup's own thread call when it fits one chunk
        # and nothing (a condition, a range, HEAD) may make it unnecessary.
        read_now = method == "GET" and not conditions and not zerocopy
        site = self.site
        loop = asyncio.get_running_loop()
        found, body = await loop.run_in_executor(
            site.executor(), _open_and_read, site.roots, segments, site.follow_symlinks, read_now)
        if found == IS_DIRECTORY and site.index is not None:
            if not trailing_slash:
                await self._redirect_to_slash(scope, send)
                return
            found, body = await loop.run_in_executor(
                site.executor(), _open_and_read, site.roots, [*segments, site.index],
                site.follow_symlinks, read_now)
        elif trailing_slash and isinstance(found, Found):
            if found.fd >= 0:
                os.close(found.fd)
            found = None  # "file.txt/" names a directory, and there is none
        if not isinstance(found, Found):
            await self._error(scope, receive, send, 404)
            return
        try:
            await self._respond(scope, receive, send, found, body, conditions, zerocopy)
        finally:
            if found.fd >= 0:
                os.close(found.fd)

    async def _respond(self, scope: Scope, receive: Receive, send: Send, found: Found,
                       body: bytes | None, conditions: dict[bytes, str], zerocopy: bool
                       ) -> None:
        site = self.site
        result = found.stat
        size = result.st_size
        etag = etag_for(result)
        last_modified = http_date(result.st_mtime)
        validators: RawHeaders = [(b"etag", etag.encode()),
                                  (b"last-modified", last_modified.encode()),
                                  (b"cache-control", site.cache_control_header)]
        if conditions and not_modified(conditions.get(b"if-none-match"),
                                       conditions.get(b"if-modified-since"),
                                       etag, result.st_mtime):
            await send({"type": "http.response.start", "status": 304, "headers": validators})
            await send({"type": "http.response.body", "body": b""})
            return
        content_type = site.content_type(found.path)
        headers = [(b"content-type", content_type), *validators,
                   (b"accept-ranges", b"bytes"), (b"x-content-type-options", b"nosniff")]
        ranges = None
        range_header = conditions.get(b"range")
        if range_header is not None and range_applies(conditions.get(b"if-range"), etag,
                                                      last_modified):
            try:
                ranges = parse_ranges(range_header, size, site.max_ranges)
            except Unsatisfiable:
                await self._error(scope, receive, send, 416,
                                  [("Content-Range", f"bytes */{size}")])
                return
        head = scope["method"] == "HEAD"
        if ranges is None:
            headers.append((b"content-length", str(size).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if head:
                await send({"type": "http.response.body", "body": b""})
            elif body is not None and len(body) == size:
                await send({"type": "http.response.body", "body": body})
            else:
                await _send_file(send, site, found.fd, 0, size, zerocopy, last=True)
            return
        if len(ranges) == 1:
            start, end = ranges[0]
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
            headers.append((b"content-length", str(end - start).encode()))
            await send({"type": "http.response.start", "status": 206, "headers": headers})
            if head:
                await send({"type": "http.response.body", "body": b""})
            else:
                await _send_file(send, site, found.fd, start, end, zerocopy, last=True)
            return
        await self._send_multipart(send, found.fd, ranges, size, headers, content_type,
                                   head, zerocopy)

    async def _send_multipart(self, send: Send, fd: int, ranges: list[tuple[int, int]],
                              size: int, headers: RawHeaders, content_type: bytes,
                              head: bool, zerocopy: bool) -> None:
        boundary = secrets.token_hex(16)
        part_heads = [
            (f"--{boundary}\r\nContent-Type: ".encode() + content_type
             + f"\r\nContent-Range: bytes {start}-{end - 1}/{size}\r\n\r\n".encode())
            for start, end in ranges
        ]
        closing = f"--{boundary}--\r\n".encode()
        length = (sum(len(h) for h in part_heads) + sum(end - start for start, end in ranges)
                  + 2 * len(ranges) + len(closing))
        headers = [(b"content-type",
                    f"multipart/byteranges; boundary={boundary}".encode()),
                   *[h for h in headers if h[0] != b"content-type"],
                   (b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        separator = b""
        for part_head, (start, end) in zip(part_heads, ranges, strict=True):
            await send({"type": "http.response.body", "body": separator + part_head,
                        "more_body": True})
            await _send_file(send, self.site, fd, start, end, zerocopy, last=False)
            separator = b"\r\n"
        await send({"type": "http.response.body", "body": separator + closing})

    async def _redirect_to_slash(self, scope: Scope, send: Send) -> None:
        root_path: str = scope.get("root_path", "")
        path: str = scope["path"]
        location = (path if root_path and path.startswith(root_path) else root_path + path) + "/"
        query: bytes = scope.get("query_string", b"")
        # The path came from the request: percent-encode it back, so the Location
        # header cannot carry anything the request line could not.
        target = quote(location, safe="/") + ("?" + query.decode("latin-1") if query else "")
        await send({"type": "http.response.start", "status": 301, "headers": [
            (b"location", target.encode("latin-1")), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def _error(self, scope: Scope, receive: Receive, send: Send, status: int,
                     headers: list[tuple[str, str]] | None = None) -> None:
        # The app's own error page (its error_response hook, or the core's text),
        # so a refused path looks exactly like any other 404 of the site.
        response = self.app.error_response(Request(scope, receive, self.app), status, None,
                                           None)
        if headers:
            response.headers.extend(headers)
        await response(scope, receive, send)


_CONDITION_HEADERS = frozenset(
    {b"if-none-match", b"if-modified-since", b"range", b"if-range"})


def _open_and_read(roots: list[str], segments: list[str], follow_symlinks: bool,
                   read_now: bool) -> tuple[Found | str | None, bytes | None]:
    """Find and open the file and, if asked and it fits one chunk, read it whole (blocking)."""
    found = open_file(roots, segments, follow_symlinks)
    if not read_now or not isinstance(found, Found) or found.stat.st_size > CHUNK:
        return found, None
    body = os.pread(found.fd, found.stat.st_size, 0)
    if len(body) != found.stat.st_size:
        return found, None  # changed while we read: stream it, which notices a short file
    os.close(found.fd)
    found.fd = -1
    return found, body


def _read_cached(fd: int, count: int, offset: int) -> bytes:
    """Up to ``count`` bytes at ``offset`` if they are in the page cache, else ``b""``.

    ``preadv`` with ``RWF_NOWAIT`` (Linux) never waits for the disk: it copies
    what is cached and fails with ``EAGAIN`` otherwise, so it may run on the
    event loop; whatever it cannot give is read in a worker thread. Served
    files are nearly always cached, and skipping the thread round trip cut the
    server's CPU per 1 MiB response from about 1.6 ms to 0.7 ms (static_bench.py,
    two runs on one busy machine; Starlette's StaticFiles 2.4-2.6 ms in both).
    """
    if _NOWAIT is None:
        return b""
    buffer = bytearray(count)
    try:
        read = os.preadv(fd, [buffer], offset, _NOWAIT)
    except OSError:  # EAGAIN: not cached; EOPNOTSUPP/EINVAL: not on this file system
        return b""
    return bytes(memoryview(buffer)[:read])


def _read_chunks(fd: int, offset: int, end: int) -> list[bytes]:
    """Up to ``READ_AHEAD`` chunks from ``offset`` (blocking); an error if the file shrank."""
    chunks = []
    for _ in range(READ_AHEAD):
        if offset >= end:
            break
        chunk = os.pread(fd, min(CHUNK, end - offset), offset)
        if not chunk:  # the file shrank under us: end the body short, never hang
            raise OSError(f"file ended at {offset} bytes, {end} expected")
        chunks.append(chunk)
        offset += len(chunk)
    return chunks


async def _send_file(send: Send, site: StaticSite, fd: int, start: int, end: int,
                     zerocopy: bool, last: bool) -> None:
    """Send bytes ``start:end`` of ``fd``: handed to the server, or read in chunks in a thread."""
    if zerocopy:
        with os.fdopen(os.dup(fd), "rb", buffering=0) as file:
            await send({"type": _ZEROCOPY, "file": file, "offset": start,
                        "count": end - start, "more_body": not last})
        return
    loop = asyncio.get_running_loop()
    offset = start
    while offset < end:
        cached = _read_cached(fd, min(CHUNK, end - offset), offset)
        if cached:
            chunks = [cached]
        else:
            chunks = await loop.run_in_executor(site.executor(), _read_chunks, fd, offset,
                                                end)
        for chunk in chunks:
            offset += len(chunk)
            more = not last or offset < end
            try:
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
            except OSError:
                return  # the client went away (ASGI 2.4 servers raise): stop reading
    if offset == start and last:
        await send({"type": "http.response.body", "body": b""})
