"""WebSockets for micropie-core: ``ws_*`` handlers, middleware, sessions and broadcast groups.

Install the distribution and define ``async def ws_chat(self, ws, room)`` on
your App: ``ws://host/chat/lobby`` connects to it. See docs/websockets.md.
"""

from __future__ import annotations

from micropie_core import Request

from .broadcast import Broadcaster, BroadcastError
from .middleware import WebSocketMiddleware
from .websocket import ConnectionClosed, InvalidMessage, WebSocket, WebSocketState

#: MicroPie's name for the handshake request a WebSocket middleware receives.
WebSocketRequest = Request

__all__ = [
    "BroadcastError",
    "Broadcaster",
    "ConnectionClosed",
    "InvalidMessage",
    "WebSocket",
    "WebSocketMiddleware",
    "WebSocketRequest",
    "WebSocketState",
]
