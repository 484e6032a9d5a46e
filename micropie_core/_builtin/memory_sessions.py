"""Built-in plugin ``sessions``: the in-memory session store (one process only)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import Setting
from ..hookspecs import hookimpl
from ..serialization import json_dumps, json_loads
from ..sessions import SessionStore

if TYPE_CHECKING:
    from ..app import App


class MemoryStore(SessionStore):
    """Sessions in a dict of one process, bounded in size, expiring by sliding TTL.

    Records are kept as JSON bytes (the core serializer), so a handler that
    mutates a nested value changes nothing until the session is saved, exactly
    as with an external store.

    Entries are kept in last-use order. With one TTL for all sessions that is
    also expiry order, so purging pops expired entries from the front and stops
    at the first live one: the work is proportional to what expired, never to
    the number of sessions. (A session whose TTL was shortened by an absolute
    lifetime may wait behind a longer-lived one; it is still never served after
    its expiry, and ``max_sessions`` bounds memory regardless.) When full, the
    least recently used session is evicted.
    """

    def __init__(
        self, max_sessions: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_sessions = max_sessions
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        entries = self._entries
        while entries:
            session_id, (expires, _) = next(iter(entries.items()))
            if expires > now:
                break
            del entries[session_id]

    def _live(self, session_id: str, now: float) -> tuple[float, bytes] | None:
        entry = self._entries.get(session_id)
        if entry is not None and entry[0] <= now:
            del self._entries[session_id]
            return None
        return entry

    async def load(self, session_id: str, ttl: int) -> dict[str, Any] | None:
        now = self._clock()
        self._purge(now)
        entry = self._live(session_id, now)
        if entry is None:
            return None
        self._entries[session_id] = (now + ttl, entry[1])
        self._entries.move_to_end(session_id)
        record: dict[str, Any] = json_loads(entry[1])
        return record

    async def save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool = False
    ) -> bool:
        now = self._clock()
        self._purge(now)
        if only_if_exists and self._live(session_id, now) is None:
            return False
        self._entries[session_id] = (now + ttl, json_dumps(record))
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.max_sessions:
            self._entries.popitem(last=False)
        return True

    async def delete(self, session_id: str) -> None:
        self._entries.pop(session_id, None)


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("sessions", "max_sessions", int, 100_000,
                "Memory store: most sessions kept; the least recently used are evicted.",
                check=lambda v: None if v > 0 else "must be positive"),
    ]


@hookimpl(trylast=True)
def session_store(app: App) -> SessionStore | None:
    settings = app.config["sessions"]
    if settings["store"] != "memory":
        return None
    return MemoryStore(settings["max_sessions"])
