"""Redis session store for micropie-core.

Install it and configure ``App(config={"sessions": {"store": "redis", "url": ...}})``;
the plugin registers itself through the ``micropie`` entry point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .breaker import CircuitBreaker

if TYPE_CHECKING:
    from .store import RedisStore, RedisUnavailable

__all__ = ["CircuitBreaker", "RedisStore", "RedisUnavailable"]


def __getattr__(name: str) -> Any:
    # The entry point loads this package in every App() of a process where it is
    # installed; importing redis.asyncio costs ~100 ms, so it happens only when
    # the store is configured or these names are asked for.
    if name in ("RedisStore", "RedisUnavailable"):
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
