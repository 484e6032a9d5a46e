"""Redis session store for micropie-core.

Install it and configure ``App(config={"sessions": {"store": "redis", "url": ...}})``;
the plugin registers itself through the ``micropie`` entry point.
"""

from .breaker import CircuitBreaker
from .store import RedisStore, RedisUnavailable

__all__ = ["CircuitBreaker", "RedisStore", "RedisUnavailable"]
