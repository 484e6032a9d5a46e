"""Plugin ``sessions_redis``: the hooks that make ``sessions.store = "redis"`` work."""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from micropie_core import Setting, hookimpl

if TYPE_CHECKING:
    from micropie_core import App

    from .store import RedisStore

# redis (and .store, which needs it) is imported only when the Redis store is
# configured: the plugin is loaded by every App() wherever it is installed.

# One store per App (the plugin module is shared by every App in the process).
_stores: WeakKeyDictionary[App, RedisStore] = WeakKeyDictionary()


def _check_url(url: str) -> str | None:
    from redis.asyncio.connection import parse_url

    try:
        parse_url(url)
    except ValueError as exc:
        return (
            f"expected a URL like redis://host:6379/0, rediss://... or unix:///path/redis.sock, "
            f"found {url!r} ({exc})"
        )
    return None


def _check_positive(value: float) -> str | None:
    return None if value > 0 else f"must be a positive number of seconds, found {value!r}"


def _check_not_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be 0 (no breaker) or more seconds, found {value!r}"


def _check_pool_size(value: int) -> str | None:
    return None if value > 0 else f"must be a positive number of connections, found {value!r}"


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("sessions", "url", str, "redis://127.0.0.1:6379/0",
                "Redis store: server URL (redis://, rediss:// or unix://).", check=_check_url),
        Setting("sessions", "prefix", str, "micropie:session:",
                "Redis store: prefix of every session key."),
        Setting("sessions", "timeout", (int, float), 1.0,
                "Redis store: seconds to wait for a connection or an answer before the "
                "request answers 503.", check=_check_positive),
        Setting("sessions", "breaker_seconds", (int, float), 1.0,
                "Redis store: after Redis failed, session requests answer 503 at once for this "
                "long, then one request tries Redis again (0 = always try).",
                check=_check_not_negative),
        Setting("sessions", "pool_size", int, 100,
                "Redis store: most connections open at once; a request finding them all "
                "busy waits for one (within timeout), never counted as an outage.",
                check=_check_pool_size),
    ]


@hookimpl
def session_store(app: App) -> RedisStore | None:
    settings = app.config["sessions"]
    if settings["store"] != "redis":
        return None
    from .store import RedisStore

    store = RedisStore(
        settings["url"],
        prefix=settings["prefix"],
        timeout=float(settings["timeout"]),
        breaker_seconds=float(settings["breaker_seconds"]),
        pool_size=settings["pool_size"],
    )
    _stores[app] = store
    return store


@hookimpl
async def startup(app: App) -> None:
    store = _stores.get(app)
    if store is not None:
        await store.open()


@hookimpl
async def shutdown(app: App) -> None:
    store = _stores.get(app)
    if store is not None:
        await store.close()
