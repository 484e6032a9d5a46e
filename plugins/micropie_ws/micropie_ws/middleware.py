"""``WebSocketMiddleware``: MicroPie's before/after WebSocket protocol."""

from __future__ import annotations

from typing import Any

from micropie_core import Request

__all__ = ["WebSocketMiddleware"]


class WebSocketMiddleware:
    """Base class for WebSocket middleware; ``app.ws_middlewares`` runs them in order.

    ``before_websocket(request)`` runs after the Origin check and the session
    load, before routing. Return ``None`` to continue, or a dict to reject the
    handshake: ``{"code": 4001, "reason": "Login first", "status_code": 403}``
    (each key optional). Clients see an HTTP ``status_code`` response (default
    403, body ``reason``) when the server supports the WebSocket denial
    response (uvicorn does); otherwise the connection is closed with ``code``
    (default 1008). It may also set ``request._ws_route_handler`` and
    ``request.path_params`` to route explicitly.

    ``after_websocket(request)`` runs once the handler has finished (the
    connection is closed by then). Both may be plain or ``async`` methods.
    """

    async def before_websocket(self, request: Request) -> dict[str, Any] | None:
        """Runs before routing; return a dict to refuse the handshake, else ``None``."""
        return None

    async def after_websocket(self, request: Request) -> None:
        """Runs once the handler has finished and the connection is closed."""
        return None
