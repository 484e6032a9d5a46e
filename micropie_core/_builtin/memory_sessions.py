"""Built-in plugin ``sessions``: the in-memory session store (one process only)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..config import Setting
from ..hookspecs import hookimpl
from ..sessions import SESSION_TIMEOUT, SessionBackend, SessionStore, StoreBackend

if TYPE_CHECKING:
    from ..app import App


class MemoryStore(SessionStore):
    """Sessions in a dict of one process, bounded in size, expiring by sliding TTL.

    Records are kept as given, not encoded: the session dict a handler changed
    is the one the next request gets (``changes = "live"``), so values may be
    any Python object (sets, datetimes, instances), as with MicroPie, and a
    read costs a dict lookup instead of a JSON round trip (issue 12: ~40 µs
    added per request with a session before, see benchmarks/sessions_bench.py).

    Entries are kept in last-use order. With one TTL for all sessions that is
    also expiry order, so purging pops expired entries from the front and stops
    at the first live one: the work is proportional to what expired, never to
    the number of sessions. (A session whose TTL was shortened by an absolute
    lifetime may wait behind a longer-lived one; it is still never served after
    its expiry, and ``max_sessions`` bounds memory regardless.) When full, the
    least recently used session is evicted.
    """

    changes = "live"

    def __init__(
        self, max_sessions: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_sessions = max_sessions
        self._clock = clock
        # [expiry, record, ttl]: a list, so a load refreshes the expiry in place.
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        entries = self._entries
        while entries:
            session_id, entry = next(iter(entries.items()))
            if entry[0] > now:
                break
            del entries[session_id]

    def _live(self, session_id: str, now: float) -> list[Any] | None:
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
        entry[0] = now + ttl
        self._entries.move_to_end(session_id)
        record: dict[str, Any] = entry[1]
        return record

    async def save(
        self, session_id: str, record: dict[str, Any], ttl: int, *, only_if_exists: bool = False
    ) -> bool:
        now = self._clock()
        self._purge(now)
        entries = self._entries
        entry = self._live(session_id, now)
        if entry is not None:  # an update: in place, no new entry
            entry[0], entry[1], entry[2] = now + ttl, record, ttl
            entries.move_to_end(session_id)
            return True
        if only_if_exists:
            return False
        entries[session_id] = [now + ttl, record, ttl]  # new keys go to the end
        while len(entries) > self.max_sessions:
            entries.popitem(last=False)
        return True

    async def delete(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    def get(self, session_id: str) -> tuple[dict[str, Any], int] | None:
        """``(record, ttl it was saved with)`` of a live session, without touching it."""
        entry = self._entries.get(session_id)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1], entry[2]

    def data(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(session_id, data)`` for every session not yet expired."""
        now = self._clock()
        for session_id, (expires, record, _) in self._entries.items():
            if expires > now:
                yield session_id, record["data"]


class _SessionsView(Mapping[str, dict[str, Any]]):
    """``InMemorySessionBackend.sessions``: the live sessions' data by id (read-only)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __getitem__(self, session_id: str) -> dict[str, Any]:
        found = self._store.get(session_id)
        if found is None:
            raise KeyError(session_id)
        return found[0]["data"]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return (session_id for session_id, _ in self._store.data())

    def __len__(self) -> int:
        return sum(1 for _ in self._store.data())


class InMemorySessionBackend(StoreBackend):
    """MicroPie's in-memory ``SessionBackend``, over the built-in memory store.

    ``App(session_backend=InMemorySessionBackend())`` is the same as the default
    memory store. Subclasses that override ``load`` or ``save`` (to count or
    log calls, as MicroPie's tests do) are called for every session operation.
    ``sessions`` is a read-only mapping of the live sessions' data by id.
    """

    store: MemoryStore

    def __init__(
        self, max_sessions: int = 100_000, *, store: MemoryStore | None = None,
        ttl: int = SESSION_TIMEOUT,
    ) -> None:
        super().__init__(store if store is not None else MemoryStore(max_sessions), ttl)
        self.sessions: Mapping[str, dict[str, Any]] = _SessionsView(self.store)

    async def load(self, session_id: str) -> dict[str, Any]:
        """The data of session ``session_id``, or ``{}`` (unknown or expired)."""
        found = self.store.get(session_id)
        if found is None:
            return {}
        record = await self.store.load(session_id, found[1])  # slides by its own timeout
        return record["data"] if record is not None else {}

    def as_store(self) -> SessionStore:
        """The memory store itself, unless a subclass overrides ``load`` or ``save``."""
        cls = type(self)
        if cls.load is InMemorySessionBackend.load and cls.save is InMemorySessionBackend.save:
            return self.store
        return SessionBackend.as_store(self)


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
