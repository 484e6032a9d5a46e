"""Typed access to what the ws plugin adds to an App.

The plugin keeps its state on each app (one :class:`Broadcaster` per app), and
MicroPie-style code keeps calling ``self.broadcast(room, message)``. A type
checker cannot see attributes a plugin sets at run time, so this module gives
them types two ways:

- functions: ``await micropie_ws.broadcast(app, room, message)``,
  ``micropie_ws.broadcaster(app)``, ``micropie_ws.ws_middlewares(app)``;
- a mixin that only declares the attributes:
  ``class Chat(App, WebSocketAttributes)`` makes ``self.broadcast(...)`` and
  ``app.ws_middlewares`` type-check.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from micropie_core import App

    from .endpoint import WebSocketEndpoint
    from .middleware import WebSocketMiddleware
    from .rooms import Broadcaster

__all__ = ["WebSocketAttributes", "broadcast", "broadcaster", "ws_middlewares"]


class WebSocketAttributes:
    """Declares, for type checkers, the attributes the ws plugin sets on an App.

    It has no behaviour: mix it into your App subclass
    (``class Chat(App, WebSocketAttributes)``) and ``self.broadcast(room, msg)``
    type-checks under ``mypy --strict``.
    """

    #: ``await self.broadcast(room, message)``: see :func:`broadcast`.
    broadcast: Callable[[str, Any], Coroutine[Any, Any, int]]
    #: WebSocket middlewares, run in order for every handshake.
    ws_middlewares: list[WebSocketMiddleware]


def _endpoint(app: App) -> WebSocketEndpoint:
    endpoint: WebSocketEndpoint | None = getattr(app, "ws_endpoint", None)
    if endpoint is None:
        raise RuntimeError(
            f"{type(app).__name__} has no WebSocket plugin active, so it has no broadcast "
            "groups. Install it with `pip install micropie-ws` and keep 'ws' in "
            "App(plugins=[...]) / MICROPIE_PLUGINS and out of block_plugins."
        )
    return endpoint


def broadcaster(app: App) -> Broadcaster:
    """The :class:`~micropie_ws.Broadcaster` (rooms and members) of ``app``."""
    return _endpoint(app).broadcaster


async def broadcast(app: App, room: str, message: Any) -> int:
    """Send ``message`` to every member of ``room``; return how many here got it.

    ``str`` goes as text, ``bytes`` as binary, anything else as JSON text. With
    ``config={"ws": {"broadcast_url": ...}}`` it also reaches the other
    processes (raising :class:`~micropie_ws.BroadcastError` when Redis is down,
    after the local members got it). Same as MicroPie's ``app.broadcast``.
    """
    return await broadcaster(app).broadcast(room, message)


def ws_middlewares(app: App) -> list[WebSocketMiddleware]:
    """The app's WebSocket middleware list (``app.ws_middlewares``), typed."""
    _endpoint(app)
    middlewares: list[WebSocketMiddleware] = app.ws_middlewares  # type: ignore[attr-defined]
    return middlewares
