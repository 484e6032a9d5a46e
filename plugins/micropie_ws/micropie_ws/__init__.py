"""WebSockets for micropie-core: ``ws_*`` handlers, middleware, sessions and broadcast groups.

Install the distribution and define ``async def ws_chat(self, ws, room)`` on
your App: ``ws://host/chat/lobby`` connects to it. ``await broadcast(app, room,
message)`` (or ``self.broadcast`` with the :class:`WebSocketAttributes` mixin, for
type checkers) sends to a room. See docs/websockets.md.
"""

from __future__ import annotations

from micropie_core import Request

from .access import WebSocketAttributes, broadcast, broadcaster, ws_middlewares
from .middleware import WebSocketMiddleware
from .rooms import Broadcaster, BroadcastError
from .websocket import ConnectionClosed, InvalidMessage, WebSocket, WebSocketState

#: MicroPie's name for the handshake request a WebSocket middleware receives.
WebSocketRequest = Request

__all__ = [
    "BroadcastError",
    "Broadcaster",
    "ConnectionClosed",
    "InvalidMessage",
    "WebSocket",
    "WebSocketAttributes",
    "WebSocketMiddleware",
    "WebSocketRequest",
    "WebSocketState",
    "broadcast",
    "broadcaster",
    "ws_middlewares",
]
