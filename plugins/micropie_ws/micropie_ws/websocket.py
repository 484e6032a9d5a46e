"""``WebSocket``: the connection object a ``ws_*`` handler receives as its first argument."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from micropie_core import HTTPError, json_dumps, json_loads
from micropie_core.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from micropie_core import Request

    from .rooms import Broadcaster

__all__ = ["ConnectionClosed", "InvalidMessage", "WebSocket", "WebSocketState"]

#: Close codes the plugin uses (RFC 6455 §7.4.1 and the IANA registry).
NORMAL = 1000
POLICY_VIOLATION = 1008
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
ABNORMAL = 1006


#: RFC 6455 §7.4.1: reserved for reporting, never sent in a close frame.
_RESERVED_CLOSE_CODES = frozenset({1004, 1005, 1006, 1015})


def sendable_close_code(code: object) -> bool:
    """Whether ``code`` may be sent in a close frame (1000-1014 minus reserved, 3000-4999)."""
    if not isinstance(code, int) or isinstance(code, bool):
        return False
    return (1000 <= code <= 1014 and code not in _RESERVED_CLOSE_CODES) or 3000 <= code <= 4999


def clip_reason(reason: str) -> str:
    """``reason`` cut to at most 123 UTF-8 bytes: what fits in a close frame."""
    data = reason.encode("utf-8")
    if len(data) <= 123:
        return reason
    return data[:120].decode("utf-8", "ignore") + "..."


class WebSocketState(enum.Enum):
    """Where a connection is in its life: ``client_state`` holds one of these."""

    CONNECTING = "connecting"  # handshake received, accept() not called yet
    CONNECTED = "connected"  # accepted: messages flow both ways
    DISCONNECTED = "disconnected"  # closed by either side, or rejected


class ConnectionClosed(Exception):
    """The connection is closed: the client went away, or the server closed it.

    Raised by every receive and send method once the connection has ended.
    A handler may let it propagate: the plugin treats it as a normal end.
    """

    def __init__(self, code: int = NORMAL, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class InvalidMessage(ValueError):
    """The client sent something the handler asked for but cannot be parsed (bad JSON).

    Left uncaught, the plugin closes the connection with 1007 (invalid payload).
    """


class WebSocket:
    """One WebSocket connection.

    Call :meth:`accept` first, then exchange messages with ``receive_*`` /
    ``send_*`` or ``async for message in ws``. Use :meth:`join` and
    :meth:`leave` for broadcast groups. ``ws.request`` is the handshake
    request (also reachable as ``self.request`` in the handler).
    """

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        request: Request | None = None,
        max_message_size: int | None = None,
        broadcaster: Broadcaster | None = None,
        accept_headers: Callable[[str | None], Awaitable[list[tuple[str, str]]]] | None = None,
        session_id: Callable[[], str | None] | None = None,
    ) -> None:
        self.scope = scope
        self.request = request
        self._receive = receive
        self._send = send
        self._max_message_size = max_message_size
        self._broadcaster = broadcaster
        self._accept_headers = accept_headers
        self._session_id = session_id
        self.client_state = WebSocketState.CONNECTING
        self._closing = False  # a close frame was sent (by us) or is being sent
        self._close_code: int | None = None
        self._close_reason = ""
        self._responded = False  # accepted, or the handshake was answered otherwise
        # Broadcast bookkeeping, owned by the Broadcaster.
        self.rooms: set[str] = set()
        self._outbox: Any = None
        self._writer: Any = None

    # ------------------------------------------------------------------ state

    @property
    def accepted(self) -> bool:
        """``True`` while the connection is accepted and open (MicroPie compatible)."""
        return self.client_state is WebSocketState.CONNECTED

    @property
    def session_id(self) -> str | None:
        """The id this connection's session is saved under (MicroPie compatible).

        The client's session id when it sent a valid one, else the id the
        accept's cookie gives it (chosen when first asked for, or by
        ``accept(session_id=...)``). ``None`` without a session store.
        """
        return self._session_id() if self._session_id is not None else None

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols") or [])

    @property
    def path(self) -> str:
        """The path the client connected to."""
        return str(self.scope.get("path", "/"))

    @property
    def close_code(self) -> int | None:
        """The close code once the connection has ended, else ``None``."""
        return self._close_code

    def _require_connected(self, action: str) -> None:
        state = self.client_state
        if state is WebSocketState.CONNECTED and not self._closing:
            return
        if state is WebSocketState.CONNECTING:
            raise RuntimeError(
                f'Cannot {action}: the WebSocket is not connected yet. Call "await ws.accept()" '
                "before sending or receiving messages."
            )
        raise ConnectionClosed(self._close_code or NORMAL, self._close_reason)

    # -------------------------------------------------------------- handshake

    async def accept(
        self,
        subprotocol: str | None = None,
        session_id: str | None = None,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Complete the handshake.

        ``subprotocol`` must be one the client offered (see :attr:`subprotocols`).
        ``session_id`` (MicroPie's argument) stores this connection's session
        under that id and sends its cookie; it must pass the app's session id
        validator. ``headers`` are extra response headers. A client without a
        session gets the cookie of a new session id with the accept, so session
        data written during the connection is saved when it ends.
        """
        if self.client_state is not WebSocketState.CONNECTING or self._responded:
            if self.client_state is WebSocketState.CONNECTED:
                raise RuntimeError("accept() was already called for this WebSocket; call it once.")
            raise RuntimeError(
                "Cannot accept(): this WebSocket was already rejected or closed."
            )
        if subprotocol is not None and subprotocol not in self.subprotocols:
            offered = ", ".join(map(repr, self.subprotocols)) or "none"
            raise ValueError(
                f"accept(subprotocol={subprotocol!r}): the client did not offer it. "
                f"Offered: {offered}. Pick one of ws.subprotocols, or pass None."
            )
        pairs = list(headers.items() if isinstance(headers, Mapping) else (headers or []))
        if self._accept_headers is not None:
            pairs.extend(await self._accept_headers(session_id))
        raw: list[tuple[bytes, bytes]] = []
        for name, value in pairs:
            if any(c in name or c in value for c in "\r\n"):
                raise ValueError(
                    f"accept(headers=...): header {name!r} contains CR or LF; such headers "
                    "are never sent. Remove the line break."
                )
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        message: Message = {"type": "websocket.accept", "subprotocol": subprotocol,
                            "headers": raw}
        self._responded = True
        await self._send_raw(message)
        self.client_state = WebSocketState.CONNECTED

    async def _deny(
        self, status_code: int, body: str, *, close_code: int = POLICY_VIOLATION,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Refuse the handshake: an HTTP response when the server can send one, else a close."""
        if self._responded:
            return
        self._responded = True
        self.client_state = WebSocketState.DISCONNECTED
        self._close_code = close_code
        self._close_reason = body
        with contextlib.suppress(OSError):  # the client left before hearing the answer
            await self._send_denial(status_code, body, close_code, headers)

    async def _send_denial(
        self, status_code: int, body: str, close_code: int, headers: Iterable[tuple[str, str]]
    ) -> None:
        extensions = self.scope.get("extensions") or {}
        if "websocket.http.response" in extensions:
            payload = body.encode("utf-8")
            raw = [(b"content-type", b"text/plain; charset=utf-8"),
                   (b"content-length", str(len(payload)).encode())]
            raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)
            await self._send({"type": "websocket.http.response.start", "status": status_code,
                              "headers": raw})
            await self._send({"type": "websocket.http.response.body", "body": payload,
                              "more_body": False})
        else:
            await self._send({"type": "websocket.close", "code": close_code,
                              "reason": clip_reason(body)})

    # ---------------------------------------------------------------- receive

    async def receive(self) -> Message:
        """The next raw ASGI message (``websocket.receive``); ``ConnectionClosed`` at the end."""
        self._require_connected("receive")
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            limit = self._max_message_size
            if limit is not None:
                text = message.get("text")
                if text is not None:
                    too_big = len(text) > limit or (
                        len(text) * 4 > limit and len(text.encode("utf-8")) > limit
                    )
                else:
                    too_big = len(message.get("bytes") or b"") > limit
                if too_big:
                    await self.close(MESSAGE_TOO_BIG, "Message too big")
                    raise ConnectionClosed(MESSAGE_TOO_BIG, "Message too big")
            return message
        if kind == "websocket.disconnect":
            self._disconnected(message.get("code", NORMAL), message.get("reason") or "")
            raise ConnectionClosed(self._close_code or NORMAL, self._close_reason)
        raise RuntimeError(f"Unexpected ASGI message {kind!r} while receiving.")

    def _disconnected(self, code: int, reason: str) -> None:
        if self.client_state is not WebSocketState.DISCONNECTED:
            self.client_state = WebSocketState.DISCONNECTED
            if self._close_code is None:
                self._close_code = code
                self._close_reason = reason
            if self._broadcaster is not None:
                self._broadcaster.forget(self)

    async def receive_text(self) -> str:
        """The next message as text (a binary message is decoded as UTF-8)."""
        message = await self.receive()
        text = message.get("text")
        if text is not None:
            return str(text)
        data: bytes = message.get("bytes") or b""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidMessage("Expected a UTF-8 text message, got undecodable bytes") from None

    async def receive_bytes(self) -> bytes:
        """The next message as bytes (a text message is encoded as UTF-8)."""
        message = await self.receive()
        data = message.get("bytes")
        if data is not None:
            return bytes(data)
        return str(message.get("text") or "").encode("utf-8")

    async def receive_json(self) -> Any:
        """The next message parsed as JSON (text or binary); bad JSON → :class:`InvalidMessage`."""
        message = await self.receive()
        payload = message.get("text")
        if payload is None:
            payload = message.get("bytes") or b""
        try:
            return json_loads(payload)
        except (HTTPError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, HTTPError) else "invalid JSON"
            raise InvalidMessage(f"Expected a JSON message: {detail}") from None

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        """Yield each message (``str`` text, ``bytes`` binary) until the connection ends."""
        while True:
            try:
                message = await self.receive()
            except ConnectionClosed:
                return
            text = message.get("text")
            yield text if text is not None else bytes(message.get("bytes") or b"")

    # ------------------------------------------------------------------- send

    async def _send_raw(self, message: Message) -> None:
        try:
            await self._send(message)
        except OSError:  # the server reports a peer that went away (uvicorn: ClientDisconnected)
            self._disconnected(ABNORMAL, "")
            raise ConnectionClosed(ABNORMAL, "The client disconnected") from None
        except RuntimeError:
            if self._closing or self.client_state is WebSocketState.DISCONNECTED:
                raise ConnectionClosed(self._close_code or NORMAL, self._close_reason) from None
            raise

    async def send(self, message: Message) -> None:
        """Send a raw ASGI ``websocket.send`` message."""
        self._require_connected("send")
        await self._send_raw(message)

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        if not isinstance(data, str):
            raise TypeError(f"send_text() expects str, got {type(data).__name__}; "
                            "use send_bytes() for binary data or send_json() for objects.")
        self._require_connected("send")
        await self._send_raw({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_bytes() expects bytes, got {type(data).__name__}; "
                            "use send_text() for str.")
        self._require_connected("send")
        await self._send_raw({"type": "websocket.send", "bytes": bytes(data)})

    async def send_json(self, data: Any) -> None:
        """Send ``data`` serialised as JSON in a text message."""
        self._require_connected("send")
        await self._send_raw({"type": "websocket.send", "text": json_dumps(data).decode()})

    # ------------------------------------------------------------------ close

    async def close(self, code: int = NORMAL, reason: str | None = None) -> None:
        """Close the connection (before ``accept`` this rejects the handshake).

        ``reason`` may be ``None`` (no reason), as in MicroPie. Closing an
        already closed connection does nothing.
        """
        reason = reason or ""
        if not sendable_close_code(code):
            raise ValueError(
                f"close(code={code!r}): expected 1000-1003, 1007-1014 or an application code "
                "3000-4999 (1004-1006 and 1015 are reserved and never sent in a close frame)."
            )
        if len(reason.encode("utf-8")) > 123:
            raise ValueError("close(reason=...): at most 123 bytes fit in a close frame.")
        if self.client_state is WebSocketState.CONNECTING:
            await self._deny(403, reason or "WebSocket connection rejected", close_code=code)
            return
        if self.client_state is WebSocketState.DISCONNECTED or self._closing:
            return
        self._closing = True
        self._close_code = code
        self._close_reason = reason
        if self._broadcaster is not None:
            self._broadcaster.forget(self)
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except (OSError, RuntimeError):
            pass  # already gone: closed is closed
        finally:
            self.client_state = WebSocketState.DISCONNECTED

    # -------------------------------------------------------------- broadcast

    def _hub(self) -> Broadcaster:
        if self._broadcaster is None:
            raise RuntimeError(
                "Broadcast groups need the micropie-ws plugin's broadcaster; this WebSocket "
                "was created outside a micropie-ws app."
            )
        return self._broadcaster

    async def join(self, room: str) -> None:
        """Receive every ``app.broadcast(room, ...)`` from now on (any process)."""
        self._require_connected("join a room")
        await self._hub().join(self, room)

    async def leave(self, room: str) -> None:
        """Stop receiving broadcasts for ``room`` (no error if not a member)."""
        await self._hub().leave(self, room)

    def __repr__(self) -> str:
        return f"<WebSocket {self.path} {self.client_state.value}>"
