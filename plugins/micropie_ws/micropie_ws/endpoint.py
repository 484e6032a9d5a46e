"""The ASGI callable that serves every ``websocket`` connection of one app.

Order of work for a connection: Origin check → session load →
``before_websocket`` middlewares → routing and binding → the handler →
close (if the handler did not) → ``after_websocket`` → session save.
Anything that goes wrong before ``accept`` refuses the handshake with an HTTP
status (or close 1008 where the server cannot send one); after ``accept`` a
handler crash is logged and the client gets close 1011.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from micropie_core import HTTPError, Request, current_request
from micropie_core.plugins import resolve
from micropie_core.types import Receive, Scope, Send

from .routing import WsRoute, handler_name, resolve_route
from .security import OriginPolicy
from .sessions import accept_headers, connection_session_id, save_at_end
from .websocket import (
    INTERNAL_ERROR,
    INVALID_PAYLOAD,
    POLICY_VIOLATION,
    ConnectionClosed,
    InvalidMessage,
    WebSocket,
    WebSocketState,
    clip_reason,
    sendable_close_code,
)

if TYPE_CHECKING:
    from micropie_core import App

    from .rooms import Broadcaster

logger = logging.getLogger("micropie")

__all__ = ["WebSocketEndpoint"]


class WebSocketEndpoint:
    """Serves the ``ws_*`` handlers of ``app``; built once when the app is constructed."""

    def __init__(
        self,
        app: App,
        routes: dict[str, WsRoute],
        origins: OriginPolicy,
        max_message_size: int | None,
        broadcaster: Broadcaster,
    ) -> None:
        self.app = app
        self.routes = routes
        self.origins = origins
        self.max_message_size = max_message_size
        self.broadcaster = broadcaster

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if not app._started:
            await app._ensure_started()
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the client left before the handshake
        request = Request(scope, receive, app)
        token = current_request.set(request)

        async def cookies(session_id: str | None) -> list[tuple[str, str]]:
            return await accept_headers(app, request, session_id)

        ws = WebSocket(scope, receive, send, request=request,
                       max_message_size=self.max_message_size,
                       broadcaster=self.broadcaster, accept_headers=cookies,
                       session_id=lambda: connection_session_id(app, request))
        try:
            await self._serve(request, ws)
        finally:
            self.broadcaster.forget(ws)
            current_request.reset(token)

    async def _serve(self, request: Request, ws: WebSocket) -> None:
        app = self.app
        middlewares: list[Any] = getattr(app, "ws_middlewares", [])
        try:
            if not self.origins.allows(request.headers):
                logger.info("WebSocket %s refused: Origin %r is not allowed", request.path,
                            request.headers.get("origin"))
                await ws._deny(403, "403 Forbidden: Origin not allowed")
                return
            session_id = app._sessions.id_to_load(request)
            if session_id is not None:
                await app._sessions.load(request, session_id)
            scope = request.scope
            default_name, segments = handler_name(
                request.path, scope.get("raw_path"), scope.get("root_path", "")
            )
            for middleware in middlewares:
                rejection = await resolve(middleware.before_websocket(request))
                if rejection:
                    await self._reject(ws, rejection)
                    return
            route = resolve_route(self.routes, request, default_name, segments)
            args, kwargs = route.arguments(request)
        except HTTPError as exc:
            await ws._deny(exc.status_code, exc.text,
                           headers=[(k, v) for k, v in exc.headers])
            return
        except Exception:
            logger.exception("Error before the WebSocket handler for %s", request.path)
            await ws._deny(500, "500 Internal Server Error", close_code=INTERNAL_ERROR)
            return

        completed = await self._run(route, request, ws, args, kwargs)
        if ws.client_state is WebSocketState.CONNECTED:
            await ws.close()
        elif ws.client_state is WebSocketState.CONNECTING:
            await ws._deny(403, "403 Forbidden: the handler did not accept the connection")
        for middleware in middlewares:
            try:
                await resolve(middleware.after_websocket(request))
            except Exception:
                logger.exception("after_websocket of %s failed for %s",
                                 type(middleware).__name__, request.path)
        if completed:
            await save_at_end(app, request)

    async def _run(
        self, route: WsRoute, request: Request, ws: WebSocket,
        args: list[Any], kwargs: dict[str, Any],
    ) -> bool:
        """Run the handler; True when it ended normally (or the client left)."""
        try:
            await route.function(self.app, ws, *args, **kwargs)
            return True
        except ConnectionClosed:
            return True
        except InvalidMessage as exc:
            logger.info("WebSocket %s closed with 1007: %s", request.path, exc)
            await self._close_after_error(ws, INVALID_PAYLOAD, str(exc), HTTPError(400, str(exc)))
            return False
        except HTTPError as exc:
            await self._close_after_error(ws, POLICY_VIOLATION, exc.text, exc)
            return False
        except Exception:
            logger.exception("Unhandled exception in WebSocket handler %s for %s",
                             route.name, request.path)
            await self._close_after_error(ws, INTERNAL_ERROR, "Internal error", HTTPError(500))
            return False

    @staticmethod
    async def _close_after_error(ws: WebSocket, code: int, reason: str, error: HTTPError) -> None:
        if ws.client_state is WebSocketState.CONNECTING:
            await ws._deny(error.status_code, error.text, close_code=code,
                           headers=list(error.headers))
        else:
            await ws.close(code, clip_reason(reason))

    @staticmethod
    async def _reject(ws: WebSocket, rejection: Mapping[str, Any]) -> None:
        code = rejection.get("code", POLICY_VIOLATION)
        if not sendable_close_code(code):
            logger.warning("before_websocket rejected %s with close code %r, which cannot be "
                           "sent; expected 1000-1003, 1007-1014 or 3000-4999. Using 1008.",
                           ws.path, code)
            code = POLICY_VIOLATION
        reason = str(rejection.get("reason") or "Rejected")
        status = rejection.get("status_code", 403)
        await ws._deny(status, reason, close_code=code)

