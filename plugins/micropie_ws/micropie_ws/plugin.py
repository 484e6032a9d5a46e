"""The ``ws`` plugin: hook implementations that give an App WebSockets.

Loaded through the ``micropie`` entry point ``ws = "micropie_ws.plugin"``.
Everything it creates is attached to the app it is called for, so several
apps in one process never share state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micropie_core import ConfigError, Setting, hookimpl
from micropie_core.types import ASGIApp

from .endpoint import WebSocketEndpoint
from .redis_bridge import RedisBridge, redis_available
from .rooms import Broadcaster
from .routing import build_ws_routes
from .security import OriginPolicy

if TYPE_CHECKING:
    from micropie_core import App

SECTION = "ws"
MiB = 1024 * 1024


def _origins_check(value: Any) -> str | None:
    if value is None:
        return None
    if not all(isinstance(item, str) for item in value):
        return "must be a list of origins such as 'https://example.com' (or '*')"
    try:
        OriginPolicy(value)
    except ValueError as exc:
        return str(exc)
    return None


def _url_check(value: str | None) -> str | None:
    if value is None or value.startswith(("redis://", "rediss://", "unix://")):
        return None
    return "must be a redis://, rediss:// or unix:// URL (or None for in-process broadcast)"


@hookimpl
def register_settings(app: App) -> list[Setting]:
    return [
        Setting(SECTION, "allowed_origins", (list, tuple, type(None)), None,
                "Origins allowed to connect; None = the request's own host only.",
                check=_origins_check),
        Setting(SECTION, "max_message_size", (int, type(None)), MiB,
                "Largest message a client may send, in bytes (None = no limit); "
                "bigger ones close the connection with 1009.",
                check=lambda v: None if v is None or v > 0 else "must be positive or None"),
        Setting(SECTION, "broadcast_url", (str, type(None)), None,
                "Redis URL for broadcasts across processes; None = this process only.",
                check=_url_check),
        Setting(SECTION, "channel_prefix", str, "micropie-ws:",
                "Prefix of the Redis pub/sub channel of each room."),
        Setting(SECTION, "send_queue_size", int, 256,
                "Broadcast messages a client may fall behind before it is closed with 1013.",
                check=lambda v: None if v > 0 else "must be positive"),
    ]


@hookimpl
def app_created(app: App) -> None:
    config = app.config[SECTION]
    bridge = None
    broadcaster = Broadcaster(config["send_queue_size"])
    if config["broadcast_url"] is not None:
        if not redis_available():
            raise ConfigError(
                "Config ws.broadcast_url needs the Redis client: "
                "`pip install 'micropie-ws[redis]'`."
            )
        bridge = RedisBridge(config["broadcast_url"], config["channel_prefix"],
                             broadcaster.deliver)
        broadcaster.bridge = bridge
    endpoint = WebSocketEndpoint(
        app,
        build_ws_routes(type(app)),
        OriginPolicy(config["allowed_origins"]),
        config["max_message_size"],
        broadcaster,
    )
    # Attributes, as MicroPie code expects them (self.broadcast, app.ws_middlewares);
    # typed access for mypy users is in access.py (broadcast(app, ...), the
    # WebSocketAttributes mixin).
    app.ws_endpoint = endpoint  # type: ignore[attr-defined]
    app.broadcast = broadcaster.broadcast  # type: ignore[attr-defined]
    if not hasattr(app, "ws_middlewares"):
        app.ws_middlewares = []  # type: ignore[attr-defined]


@hookimpl
def register_scope_handlers(app: App) -> dict[str, ASGIApp]:
    endpoint: WebSocketEndpoint = app.ws_endpoint  # type: ignore[attr-defined]
    return {"websocket": endpoint}


@hookimpl
async def startup(app: App) -> None:
    await app.ws_endpoint.broadcaster.start()  # type: ignore[attr-defined]


@hookimpl
async def shutdown(app: App) -> None:
    await app.ws_endpoint.broadcaster.stop()  # type: ignore[attr-defined]
