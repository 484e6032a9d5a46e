"""Broadcast groups: ``ws.join(room)``, ``app.broadcast(room, message)``.

Every connection that joins a room gets a bounded send queue and a writer
task. A broadcast only puts the message on each member's queue, so one slow
client never delays the others; a client whose queue is full has fallen too
far behind and is closed with 1013 (try again later).

With ``config={"ws": {"broadcast_url": "redis://..."}}`` messages also travel
through Redis pub/sub to the other processes serving the app (see
:mod:`micropie_ws.redis_bridge`); members in this process get them directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

from micropie_core import json_dumps
from micropie_core.types import Message

from .websocket import TRY_AGAIN_LATER, ConnectionClosed

if TYPE_CHECKING:
    from .websocket import WebSocket

__all__ = ["BroadcastError", "Broadcaster", "encode_message"]

logger = logging.getLogger("micropie")

#: Time a slow client gets to take its 1013 close frame before we give up on it.
CLOSE_TIMEOUT = 10.0


class BroadcastError(Exception):
    """The broadcast reached this process's members but not the other processes."""


class Bridge(Protocol):
    """What the Broadcaster needs from a cross-process transport (Redis pub/sub)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def subscribe(self, room: str) -> None: ...
    async def unsubscribe(self, room: str) -> None: ...
    async def publish(self, room: str, message: Message) -> None: ...


def encode_message(message: Any) -> Message:
    """``str`` → text, ``bytes`` → binary, anything else → JSON text (an ASGI send message)."""
    if isinstance(message, str):
        return {"type": "websocket.send", "text": message}
    if isinstance(message, (bytes, bytearray, memoryview)):
        return {"type": "websocket.send", "bytes": bytes(message)}
    try:
        return {"type": "websocket.send", "text": json_dumps(message).decode()}
    except TypeError as exc:
        raise TypeError(
            f"broadcast() expects str, bytes or a JSON-serialisable value; got "
            f"{type(message).__name__} ({exc})."
        ) from None


def _check_room(room: object) -> str:
    if not isinstance(room, str) or not room:
        raise TypeError(f"A room name must be a non-empty str, got {room!r}.")
    return room


class Broadcaster:
    """The rooms of one app: membership, per-connection queues and delivery."""

    def __init__(self, queue_size: int, bridge: Bridge | None = None) -> None:
        self.queue_size = queue_size
        self.bridge = bridge
        self.rooms: dict[str, set[WebSocket]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self.bridge is not None:
            await self.bridge.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.bridge is not None:
            await self.bridge.stop()

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("A broadcast task failed", exc_info=task.exception())

    # ------------------------------------------------------------ membership

    async def join(self, ws: WebSocket, room: str) -> None:
        """Add ``ws`` to ``room``; subscribe this process to the room if it is new here."""
        room = _check_room(room)
        if room in ws.rooms:
            return
        if ws._outbox is None:
            ws._outbox = asyncio.Queue(self.queue_size)
            ws._writer = self._spawn(self._write(ws, ws._outbox))
        ws.rooms.add(room)
        members = self.rooms.get(room)
        if members is None:
            self.rooms[room] = {ws}
            if self.bridge is not None:
                await self.bridge.subscribe(room)
        else:
            members.add(ws)

    async def leave(self, ws: WebSocket, room: str) -> None:
        """Remove ``ws`` from ``room`` (nothing happens if it was not a member)."""
        room = _check_room(room)
        if room not in ws.rooms:
            return
        ws.rooms.discard(room)
        if self._drop(ws, room) and self.bridge is not None:
            await self.bridge.unsubscribe(room)

    def _drop(self, ws: WebSocket, room: str) -> bool:
        """Remove a member; True when the room became empty here."""
        members = self.rooms.get(room)
        if members is None:
            return False
        members.discard(ws)
        if members:
            return False
        del self.rooms[room]
        return True

    def forget(self, ws: WebSocket) -> None:
        """The connection ended: leave every room and stop its writer."""
        emptied = [room for room in ws.rooms if self._drop(ws, room)]
        ws.rooms.clear()
        writer = ws._writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
        ws._writer = None
        ws._outbox = None
        if emptied and self.bridge is not None:
            self._spawn(self._unsubscribe_all(emptied))

    async def _unsubscribe_all(self, rooms: list[str]) -> None:
        assert self.bridge is not None
        for room in rooms:
            if room not in self.rooms:  # nobody re-joined meanwhile
                await self.bridge.unsubscribe(room)

    # -------------------------------------------------------------- delivery

    async def broadcast(self, room: str, message: Any) -> int:
        """Send ``message`` to every member of ``room`` in every process.

        ``str`` goes as text, ``bytes`` as binary, other values as JSON text.
        Returns how many members in this process got it queued. Raises
        :class:`BroadcastError` if the message could not be handed to Redis
        (members in this process have it already).
        """
        room = _check_room(room)
        asgi_message = encode_message(message)
        delivered = self.deliver(room, asgi_message)
        if self.bridge is not None:
            await self.bridge.publish(room, asgi_message)
        else:
            # Let the members' writers run before the next broadcast, so a burst
            # from one loop does not overflow clients that are keeping up.
            await asyncio.sleep(0)
        return delivered

    def deliver(self, room: str, message: Message) -> int:
        """Queue ``message`` for each local member of ``room``, never waiting on any of them."""
        members = self.rooms.get(room)
        if not members:
            return 0
        count = 0
        for ws in list(members):
            outbox = ws._outbox
            if outbox is None:
                continue
            try:
                outbox.put_nowait(message)
                count += 1
            except asyncio.QueueFull:
                self._overflow(ws)
        return count

    def _overflow(self, ws: WebSocket) -> None:
        logger.warning(
            "Closing WebSocket %s with 1013: it fell %d broadcast messages behind",
            ws.path, self.queue_size,
        )
        self.forget(ws)
        self._spawn(self._close_slow(ws))

    async def _close_slow(self, ws: WebSocket) -> None:
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            await asyncio.wait_for(ws.close(TRY_AGAIN_LATER, "Receiver too slow"), CLOSE_TIMEOUT)

    async def _write(self, ws: WebSocket, outbox: asyncio.Queue[Message]) -> None:
        """Send queued broadcast messages to one client, in order."""
        try:
            while True:
                message = await outbox.get()
                if ws._closing:
                    return
                await ws._send_raw(message)
        except ConnectionClosed:
            return
