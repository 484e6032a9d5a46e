"""``TestClient``: drive an App in-process, synchronously or with ``await``.

Lifespan runs by default (startup on enter, shutdown on close), cookies persist
between requests in a jar, and nothing touches the network.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import weakref
from collections.abc import Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode, urlsplit

from .headers import Headers
from .serialization import json_dumps, json_loads
from .testing_websocket import WebSocketTestSession
from .types import ASGIApp, Message, Scope

T = TypeVar("T")
FileSpec = tuple[str, bytes] | tuple[str, bytes, str]
#: ``{field: spec}``, or ``[(field, spec), ...]`` to send several files under one field.
Files = Mapping[str, FileSpec] | Iterable[tuple[str, FileSpec]]

__all__ = ["TestClient", "TestResponse"]


class TestResponse:
    """What the app sent back: status, headers, body."""

    __test__ = False  # not a pytest test class

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes):
        self.status_code = status_code
        self.headers = Headers(raw_headers)
        self.content = body

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json_loads(self.content)

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies set by this response (name → value; expired ones give ``""``)."""
        return {name: value for name, value, _ in map(_parse_set_cookie,
                                                      self.headers.getlist("set-cookie"))}

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code}>"


def _parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    first, *attributes = header.split(";")
    name, _, value = first.partition("=")
    attrs = {}
    for attribute in attributes:
        key, _, attr_value = attribute.strip().partition("=")
        attrs[key.lower()] = attr_value
    return name.strip(), value.strip().strip('"'), attrs


class _Portal:
    """An event loop in a thread, so sync tests can call async code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop_if_running(self) -> None:
        if not self.loop.is_closed():
            self.stop()

    def stop(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        self.call(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class TestClient:
    """An in-process HTTP client for an ASGI app.

    Sync::

        with TestClient(app) as client:
            assert client.get("/greet/Ann").text == "Hello, Ann!"

    Async (inside a running loop)::

        async with TestClient(app) as client:
            response = await client.arequest("GET", "/")
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        *,
        lifespan: bool = True,
        timeout: float = 30.0,
        client_address: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> None:
        self.app = app
        parts = urlsplit(base_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.netloc or "testserver"
        self.lifespan = lifespan
        self.timeout = timeout
        self.client_address = client_address
        self.cookies: dict[str, str] = {}
        self.portal: _Portal | None = None
        self._lifespan_task: asyncio.Task[None] | None = None
        self._lifespan_queue: asyncio.Queue[Message] | None = None
        self._lifespan_events: asyncio.Queue[Message] | None = None
        self._opened = False

    # ------------------------------------------------------------- lifecycle

    async def astart(self) -> None:
        """Run the app's lifespan startup (once); raises if startup failed."""
        if self._opened:
            return
        self._opened = True
        if not self.lifespan:
            return
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

        async def run() -> None:
            try:
                await self.app(scope, inbox.get, outbox.put)
            finally:
                await outbox.put({"type": "lifespan.finished"})

        self._lifespan_queue, self._lifespan_events = inbox, outbox
        self._lifespan_task = asyncio.ensure_future(run())
        await inbox.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(outbox.get(), self.timeout)
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"Application startup failed: {message.get('message', '')}")

    async def astop(self) -> None:
        """Run the lifespan shutdown; raises if shutdown failed."""
        if not self._opened:
            return
        self._opened = False
        task, inbox, outbox = self._lifespan_task, self._lifespan_queue, self._lifespan_events
        self._lifespan_task = None
        if task is None or inbox is None or outbox is None or task.done():
            return
        await inbox.put({"type": "lifespan.shutdown"})
        message = await asyncio.wait_for(outbox.get(), self.timeout)
        await task
        if message["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(f"Application shutdown failed: {message.get('message', '')}")

    async def __aenter__(self) -> TestClient:
        await self.astart()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.astop()

    def __enter__(self) -> TestClient:
        self._sync_portal()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop a sync client: lifespan shutdown, then its event-loop thread."""
        portal, self.portal = self.portal, None
        if portal is not None:
            try:
                portal.call(self.astop())
            finally:
                portal.stop()

    def _sync_portal(self) -> _Portal:
        if self.portal is None:
            self.portal = _Portal()
            # A client never closed (no `with`, no close()) still ends cleanly when
            # it is collected or the interpreter exits: its loop's tasks are
            # cancelled instead of destroyed while pending. (Its lifespan shutdown
            # runs only through close().)
            weakref.finalize(self, self.portal.stop_if_running)
            self.portal.call(self.astart())
        return self.portal

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on this sync client's event loop (for plugin helpers)."""
        return self._sync_portal().call(coroutine)

    # -------------------------------------------------------------- requests

    def build_scope(
        self, scope_type: str, path: str, *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        method: str = "GET",
    ) -> Scope:
        """An ASGI scope for ``path`` with the jar's cookies (plugins reuse this)."""
        parts = urlsplit(path)
        query = parts.query
        if params:
            extra = urlencode(list(params.items()) if isinstance(params, Mapping) else
                              list(params), doseq=True)
            query = f"{query}&{extra}" if query else extra
        raw_headers: list[tuple[bytes, bytes]] = []
        header_pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
        for name, value in header_pairs:
            raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        if not any(name == b"host" for name, _ in raw_headers):  # a given Host replaces ours
            raw_headers.insert(0, (b"host", self.host.encode()))
        jar = {**self.cookies, **(cookies or {})}
        if jar and not any(name == b"cookie" for name, _ in raw_headers):
            raw_headers.append(
                (b"cookie", "; ".join(f"{k}={v}" for k, v in jar.items()).encode("latin-1"))
            )
        secure = self.scheme == "https"
        scheme = {"http": "https" if secure else "http",
                  "websocket": "wss" if secure else "ws"}.get(scope_type, self.scheme)
        scope: Scope = {
            "type": scope_type,
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": scheme,
            "path": unquote(parts.path or "/"),
            "raw_path": (parts.path or "/").encode("latin-1"),
            "root_path": "",
            "query_string": query.encode("latin-1"),
            "headers": raw_headers,
            "client": self.client_address,
            "server": (self.host.partition(":")[0], 443 if secure else 80),
        }
        if scope_type == "http":
            scope["method"] = method.upper()
        return scope

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        files: Files | None = None,
        content: bytes | Iterable[bytes] | None = None,
    ) -> TestResponse:
        """Send one request through the app and collect the response."""
        await self.astart()
        header_list = list(headers.items() if isinstance(headers, Mapping) else (headers or []))
        names = {name.lower() for name, _ in header_list}
        chunks, content_type = _encode_body(json, data, files, content)
        if content_type and "content-type" not in names:
            header_list.append(("content-type", content_type))
        if chunks is not None and "content-length" not in names and len(chunks) == 1:
            header_list.append(("content-length", str(len(chunks[0]))))
        elif chunks is not None and len(chunks) > 1 and "content-length" not in names:
            header_list.append(("transfer-encoding", "chunked"))
        scope = self.build_scope("http", path, params=params, headers=header_list,
                                 cookies=cookies, method=method)
        pending = list(chunks or [b""])
        finished = asyncio.Event()
        status = 0
        raw_headers: list[tuple[bytes, bytes]] = []
        body = bytearray()

        async def receive() -> Message:
            if pending:
                chunk = pending.pop(0)
                return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, raw_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                raw_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        try:
            await asyncio.wait_for(self.app(scope, receive, send), self.timeout)
        finally:
            finished.set()
        if not status:
            raise RuntimeError(f"The app sent no response to {method} {path}.")
        response = TestResponse(status, raw_headers, bytes(body))
        self._store_cookies(response)
        return response

    def _store_cookies(self, response: TestResponse) -> None:
        for header in response.headers.getlist("set-cookie"):
            name, value, attrs = _parse_set_cookie(header)
            if attrs.get("max-age") == "0" or value == "":
                self.cookies.pop(name, None)
            elif "secure" not in attrs or self._secure_context:
                self.cookies[name] = value

    @property
    def _secure_context(self) -> bool:
        # Browsers keep and send Secure cookies over https and for the local
        # host even over plain http; the in-process "testserver" is local too.
        host = self.host.rpartition(":")[0] if self.host.count(":") == 1 else self.host
        return self.scheme == "https" or host in ("testserver", "localhost", "127.0.0.1",
                                                  "[::1]")

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        """Synchronous :meth:`arequest`."""
        return self._sync_portal().call(self.arequest(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a GET request; see :meth:`arequest` for the keyword arguments."""
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request; see :meth:`arequest` for the keyword arguments."""
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a POST request; see :meth:`arequest` for the keyword arguments."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request; see :meth:`arequest` for the keyword arguments."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request; see :meth:`arequest` for the keyword arguments."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request; see :meth:`arequest` for the keyword arguments."""
        return self.request("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> TestResponse:
        """Send an OPTIONS request; see :meth:`arequest` for the keyword arguments."""
        return self.request("OPTIONS", path, **kwargs)

    def websocket_connect(
        self,
        path: str,
        subprotocols: Iterable[str] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> WebSocketTestSession:
        """A WebSocket session for ``path``; the handshake happens on ``with`` / ``async with``.

        See :mod:`micropie_core.testing_websocket` (a refused handshake raises
        ``WebSocketDenied``, a close while receiving ``WebSocketDisconnect``).
        """
        return WebSocketTestSession(self, path, subprotocols=subprotocols, headers=headers,
                                    **kwargs)

    async def aget(self, path: str, **kwargs: Any) -> TestResponse:
        """Async GET; see :meth:`arequest`."""
        return await self.arequest("GET", path, **kwargs)

    async def apost(self, path: str, **kwargs: Any) -> TestResponse:
        """Async POST; see :meth:`arequest`."""
        return await self.arequest("POST", path, **kwargs)


def _encode_body(
    json: Any, data: Mapping[str, Any] | str | bytes | None,
    files: Files | None, content: bytes | Iterable[bytes] | None,
) -> tuple[list[bytes] | None, str | None]:
    if json is not None:
        return [json_dumps(json)], "application/json"
    if files is not None:
        return _encode_multipart(data if isinstance(data, Mapping) else {}, files)
    if isinstance(data, Mapping):
        return [urlencode(data, doseq=True).encode()], "application/x-www-form-urlencoded"
    if isinstance(data, str):
        return [data.encode()], None
    if isinstance(data, bytes):
        return [data], None
    if isinstance(content, bytes):
        return [content], None
    if content is not None:
        return list(content), None
    return None, None


def _encode_multipart(
    fields: Mapping[str, Any], files: Files
) -> tuple[list[bytes], str]:
    boundary = secrets.token_hex(16)
    out = bytearray()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"{item}\r\n").encode()
    pairs: Iterable[tuple[str, FileSpec]] = (
        files.items() if isinstance(files, Mapping) else files
    )
    for name, spec in pairs:
        filename, payload = spec[0], spec[1]
        media_type = spec[2] if len(spec) == 3 else "application/octet-stream"
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {media_type}\r\n\r\n').encode()
        out += payload + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return [bytes(out)], f"multipart/form-data; boundary={boundary}"
