"""In-process WebSocket sessions for :class:`~micropie_core.testing.TestClient`.

``client.websocket_connect(path)`` returns a :class:`WebSocketTestSession`;
entering it performs the handshake::

    with TestClient(app) as client:
        with client.websocket_connect("/echo") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"

    async with TestClient(app) as client:
        async with client.websocket_connect("/echo") as ws:
            await ws.asend_text("hi")
            assert await ws.areceive_text() == "hi"

The app sees what a server such as uvicorn sends it, including the
``websocket.http.response`` extension, so a refused handshake surfaces as
:class:`WebSocketDenied` with the HTTP status the app chose.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .headers import Headers
from .serialization import json_dumps, json_loads
from .types import Message

if TYPE_CHECKING:
    from .testing import TestClient

__all__ = ["WebSocketDenied", "WebSocketDisconnect", "WebSocketTestSession"]


class WebSocketDenied(Exception):
    """The app refused the handshake (HTTP denial response, or close before accept)."""

    def __init__(self, status_code: int, body: bytes = b"",
                 headers: list[tuple[bytes, bytes]] | None = None,
                 close_code: int | None = None, close_reason: str = "") -> None:
        self.status_code = status_code
        self.content = body
        self.headers = Headers(headers or [])
        self.close_code = close_code
        self.close_reason = close_reason
        detail = f": {self.text}" if body else ""
        via = f" (closed with {close_code} before accept)" if close_code is not None else ""
        super().__init__(f"The app refused the WebSocket handshake with HTTP "
                         f"{status_code}{via}{detail}")

    @property
    def text(self) -> str:
        """The denial response's body decoded as UTF-8."""
        return self.content.decode("utf-8", "replace")


class WebSocketDisconnect(Exception):
    """The app closed the connection (``code``, ``reason``) while the test waited for data."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"The app closed the WebSocket with code {code}"
                         + (f": {reason}" if reason else ""))


class WebSocketTestSession:
    """One in-process WebSocket connection; use it as a (sync or async) context manager."""

    __test__ = False

    def __init__(
        self,
        client: TestClient,
        path: str,
        *,
        subprotocols: Iterable[str] | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        cookies: Mapping[str, str] | None = None,
        denial_response: bool = True,
    ) -> None:
        self.client = client
        self.path = path
        header_list = list(headers.items() if isinstance(headers, Mapping) else (headers or []))
        self.scope = client.build_scope("websocket", path, headers=header_list, cookies=cookies)
        self.scope["subprotocols"] = list(subprotocols or [])
        if denial_response:
            self.scope["extensions"] = {"websocket.http.response": {}}
        self.accepted_subprotocol: str | None = None
        self.accept_headers = Headers([])
        self.close_code: int | None = None
        self.close_reason = ""
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._app_closed = False

    # -------------------------------------------------------------- handshake

    async def aconnect(self) -> WebSocketTestSession:
        """Send the handshake; raise :class:`WebSocketDenied` if the app refuses it."""
        await self.client.astart()
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.ensure_future(
            self.client.app(self.scope, self._app_receive, self._app_send)
        )
        message = await self._next_from_app()
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            raw = list(message.get("headers") or [])
            self.accept_headers = Headers(raw)
            from .testing import TestResponse

            self.client._store_cookies(TestResponse(101, raw, b""))
            return self
        if kind == "websocket.close":
            await self._finish()
            raise WebSocketDenied(403, b"", close_code=message.get("code", 1000),
                                  close_reason=message.get("reason") or "")
        if kind == "websocket.http.response.start":
            body = bytearray()
            status, raw = message["status"], list(message.get("headers") or [])
            more = True
            while more:
                part = await self._next_from_app()
                body += part.get("body", b"")
                more = bool(part.get("more_body", False))
            await self._finish()
            raise WebSocketDenied(status, bytes(body), raw)
        await self._finish()
        raise RuntimeError(f"The app sent {kind!r} before accepting the WebSocket.")

    async def _app_receive(self) -> Message:
        assert self._to_app is not None
        return await self._to_app.get()

    async def _app_send(self, message: Message) -> None:
        assert self._from_app is not None and self._to_app is not None
        if self._app_closed:
            raise RuntimeError(f"Unexpected ASGI message {message['type']!r} after "
                               "'websocket.close'.")
        if message["type"] == "websocket.close":
            # Like a server: the app's own receive() now reports the close.
            self._app_closed = True
            await self._to_app.put({"type": "websocket.disconnect",
                                    "code": message.get("code", 1000),
                                    "reason": message.get("reason") or ""})
        await self._from_app.put(message)

    async def _next_from_app(self) -> Message:
        """The app's next message; the app's own exception if it crashed instead."""
        assert self._from_app is not None and self._task is not None
        if not self._from_app.empty():
            return self._from_app.get_nowait()
        getter = asyncio.ensure_future(self._from_app.get())
        try:
            done, _ = await asyncio.wait({getter, self._task}, timeout=self.client.timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
        if getter in done:
            return getter.result()
        if self._task in done:
            self._task.result()  # re-raise what the app raised
            if not self._from_app.empty():
                return self._from_app.get_nowait()
            return {"type": "websocket.close", "code": 1006,
                    "reason": "the app returned without closing"}
        raise TimeoutError(f"The app sent nothing on {self.path} within "
                           f"{self.client.timeout} s.")

    # ---------------------------------------------------------------- talking

    async def asend(self, message: Message) -> None:
        """Hand a raw ``websocket.receive`` / ``websocket.disconnect`` message to the app."""
        if self._to_app is None:
            raise RuntimeError("Not connected: use `with client.websocket_connect(...) as ws:`.")
        if self.close_code is not None:  # like a real client: closed is closed
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        await self._to_app.put(message)

    async def asend_text(self, data: str) -> None:
        """Send a text message to the app."""
        await self.asend({"type": "websocket.receive", "text": data})

    async def asend_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        await self.asend({"type": "websocket.receive", "bytes": data})

    async def asend_json(self, data: Any) -> None:
        """Send ``data`` to the app as a JSON text message."""
        await self.asend({"type": "websocket.receive", "text": json_dumps(data).decode()})

    async def areceive(self) -> Message:
        """The app's next ``websocket.send``; :class:`WebSocketDisconnect` if it closed."""
        if self.close_code is not None:
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        message = await self._next_from_app()
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            raise WebSocketDisconnect(self.close_code or 1000, self.close_reason)
        return message

    async def areceive_text(self) -> str:
        """The app's next message, which must be text."""
        message = await self.areceive()
        if message.get("text") is None:
            raise AssertionError(f"Expected a text message, got bytes {message.get('bytes')!r}")
        return str(message["text"])

    async def areceive_bytes(self) -> bytes:
        """The app's next message, which must be binary."""
        message = await self.areceive()
        if message.get("bytes") is None:
            raise AssertionError(f"Expected a binary message, got text {message.get('text')!r}")
        return bytes(message["bytes"])

    async def areceive_json(self) -> Any:
        """The app's next message parsed as JSON (text or binary)."""
        message = await self.areceive()
        text = message.get("text")
        return json_loads(text if text is not None else message.get("bytes") or b"")

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side and wait for the app to finish (re-raising its crash)."""
        if self._task is None:
            return
        if not self._task.done() and self.close_code is None:
            await self.asend({"type": "websocket.disconnect", "code": code, "reason": reason})
            self.close_code = code
        await self._finish()

    async def _finish(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, self.client.timeout)
        except TimeoutError:
            raise TimeoutError(f"The WebSocket app for {self.path} did not finish within "
                               f"{self.client.timeout} s of the client closing.") from None

    async def __aenter__(self) -> WebSocketTestSession:
        return await self.aconnect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------- sync facade

    def _call(self, coroutine: Any) -> Any:
        return self.client.run(coroutine)

    def __enter__(self) -> WebSocketTestSession:
        return self._call(self.aconnect())  # type: ignore[no-any-return]

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._call(self.aclose())

    def send(self, message: Message) -> None:
        """Synchronous :meth:`asend`."""
        self._call(self.asend(message))

    def send_text(self, data: str) -> None:
        """Synchronous :meth:`asend_text`."""
        self._call(self.asend_text(data))

    def send_bytes(self, data: bytes) -> None:
        """Synchronous :meth:`asend_bytes`."""
        self._call(self.asend_bytes(data))

    def send_json(self, data: Any) -> None:
        """Synchronous :meth:`asend_json`."""
        self._call(self.asend_json(data))

    def receive(self) -> Message:
        """Synchronous :meth:`areceive`."""
        return self._call(self.areceive())  # type: ignore[no-any-return]

    def receive_text(self) -> str:
        """Synchronous :meth:`areceive_text`."""
        return self._call(self.areceive_text())  # type: ignore[no-any-return]

    def receive_bytes(self) -> bytes:
        """Synchronous :meth:`areceive_bytes`."""
        return self._call(self.areceive_bytes())  # type: ignore[no-any-return]

    def receive_json(self) -> Any:
        """Synchronous :meth:`areceive_json`."""
        return self._call(self.areceive_json())

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Synchronous :meth:`aclose`."""
        self._call(self.aclose(code, reason))
