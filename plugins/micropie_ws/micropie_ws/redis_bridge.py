"""Broadcasts across processes through Redis pub/sub (``ws.broadcast_url``).

One channel per room (``<prefix><room>``); a process subscribes to a room's
channel while it has at least one member of that room. Each published message
carries the publishing process's id so that process skips its own copy (its
members were served directly). When Redis goes away, the subscriber
reconnects with backoff and subscribes again; messages published while Redis
was unreachable are lost (pub/sub keeps nothing) and ``broadcast`` raises
:class:`~micropie_ws.BroadcastError` meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

from micropie_core.types import Message

from .rooms import BroadcastError

__all__ = ["RedisBridge"]

logger = logging.getLogger("micropie")

_TEXT = b"t"
_BYTES = b"b"
_ID_SIZE = 16
#: How long ``join`` waits for Redis to confirm a new subscription.
SUBSCRIBE_TIMEOUT = 5.0
_BACKOFF_START = 0.1
_BACKOFF_MAX = 2.0


def _import_redis() -> Any:
    try:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return redis.asyncio, Retry, NoBackoff


def redis_available() -> bool:
    """Whether the optional ``redis`` dependency is installed."""
    return _import_redis() is not None


class RedisBridge:
    """Publishes broadcasts to Redis and hands messages from other processes to ``deliver``."""

    def __init__(
        self, url: str, prefix: str, deliver: Callable[[str, Message], int]
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.deliver = deliver
        self.process_id = secrets.token_bytes(_ID_SIZE)
        self._rooms: set[str] = set()  # rooms this process wants to hear about
        self._waiters: dict[bytes, list[asyncio.Future[None]]] = {}
        self._publisher: Any = None
        self._subscriber: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    def _channel(self, room: str) -> bytes:
        return (self.prefix + room).encode("utf-8")

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        redis_asyncio, retry_class, no_backoff = _import_redis()
        # Fail fast instead of retrying inside redis-py: the reader loop below
        # does the reconnecting, and a publish during an outage should not hang.
        options: dict[str, Any] = {"socket_connect_timeout": 2.0,
                                   "retry": retry_class(no_backoff(), 0)}
        self._publisher = redis_asyncio.from_url(self.url, socket_timeout=5.0, **options)
        self._subscriber = redis_asyncio.from_url(self.url, **options)
        self._connected = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read_forever())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        await self._close_pubsub()
        for client in (self._publisher, self._subscriber):
            if client is not None:
                await client.aclose()
        self._publisher = self._subscriber = None
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.cancel()
        self._waiters.clear()

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to clean
                await pubsub.aclose()

    # ----------------------------------------------------------- subscribing

    async def subscribe(self, room: str) -> None:
        """Start hearing ``room``; wait (bounded) until Redis confirms it.

        While Redis is unreachable this returns at once: the subscription is
        made when the connection comes back.
        """
        self._rooms.add(room)
        pubsub = self._pubsub
        if pubsub is None or not self._connected.is_set():
            return
        channel = self._channel(room)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        try:
            await pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT)
        except Exception as exc:
            logger.warning("Redis did not confirm the subscription to room %r (%s: %s); "
                           "it is retried when the connection recovers",
                           room, type(exc).__name__, exc)
        finally:
            waiters = self._waiters.get(channel, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(channel, None)

    async def unsubscribe(self, room: str) -> None:
        """Stop hearing ``room``."""
        self._rooms.discard(room)
        pubsub = self._pubsub
        if pubsub is None or not self._connected.is_set():
            return
        with contextlib.suppress(Exception):  # a broken connection gets replaced
            await pubsub.unsubscribe(self._channel(room))

    # ------------------------------------------------------------- messages

    async def publish(self, room: str, message: Message) -> None:
        """Hand ``message`` to every other process that has members of ``room``."""
        text = message.get("text")
        if text is not None:
            payload = self.process_id + _TEXT + text.encode("utf-8")
        else:
            payload = self.process_id + _BYTES + bytes(message.get("bytes") or b"")
        try:
            await self._publisher.publish(self._channel(room), payload)
        except Exception as exc:
            raise BroadcastError(
                f"The broadcast to room {room!r} reached this process only: Redis at "
                f"{_safe_url(self.url)} is unreachable ({type(exc).__name__}: {exc})."
            ) from exc

    def _on_message(self, channel: bytes, data: bytes) -> None:
        if data[:_ID_SIZE] == self.process_id:
            return  # our own broadcast: local members were served directly
        kind = data[_ID_SIZE:_ID_SIZE + 1]
        body = data[_ID_SIZE + 1:]
        room = channel.decode("utf-8")[len(self.prefix):]
        if kind == _TEXT:
            self.deliver(room, {"type": "websocket.send", "text": body.decode("utf-8")})
        elif kind == _BYTES:
            self.deliver(room, {"type": "websocket.send", "bytes": body})

    def _on_subscribed(self, channel: bytes) -> None:
        for waiter in self._waiters.pop(channel, []):
            if not waiter.done():
                waiter.set_result(None)

    async def _read_forever(self) -> None:
        delay = _BACKOFF_START
        failing = False
        while True:
            try:
                pubsub = self._subscriber.pubsub()
                self._pubsub = pubsub
                # PING both proves the connection and lets us subscribe in one go.
                await self._subscriber.ping()
                rooms = list(self._rooms)
                if rooms:
                    await pubsub.subscribe(*(self._channel(r) for r in rooms))
                else:
                    await pubsub.connect()
                self._connected.set()
                if failing:
                    logger.warning("Reconnected to Redis at %s; broadcasts flow again",
                                   _safe_url(self.url))
                failing = False
                delay = _BACKOFF_START
                while True:
                    item = await pubsub.get_message(timeout=None)
                    if item is None:
                        continue
                    kind = item["type"]
                    if kind == "message":
                        self._on_message(item["channel"], item["data"])
                    elif kind == "subscribe":
                        self._on_subscribed(item["channel"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._connected.clear()
                if not failing:
                    logger.warning("Lost the Redis connection for broadcasts (%s: %s); "
                                   "reconnecting", type(exc).__name__, exc)
                failing = True
                await self._close_pubsub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)


def _safe_url(url: str) -> str:
    """``url`` without a password, for log lines and error messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"
