"""The built-in memory store (micropie_core/_builtin/memory_sessions.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from micropie_core import App
from micropie_core._builtin.memory_sessions import MemoryStore
from micropie_core.errors import ConfigError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(n: int) -> dict[str, Any]:
    return {"data": {"n": n}, "created": 0.0}


def test_ttl_slides_on_every_load() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)

    async def scenario() -> None:
        await store.save("a", record(1), ttl=10)
        for _ in range(5):  # used every 8 s: outlives its 10 s TTL
            clock.now += 8
            assert await store.load("a", ttl=10) == record(1)
        clock.now += 10
        assert await store.load("a", ttl=10) is None
        assert len(store) == 0

    asyncio.run(scenario())


def test_expired_sessions_are_purged_from_the_front_only() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)

    async def scenario() -> None:
        for i in range(100):
            await store.save(f"old{i}", record(i), ttl=10)
        clock.now = 5
        for i in range(3):
            await store.save(f"new{i}", record(i), ttl=10)
        clock.now = 11  # the 100 old ones expired, the 3 new ones live
        assert await store.load("new0", ttl=10) == record(0)
        assert len(store) == 3
        assert list(store._entries)[-1] == "new0"  # last used moves to the back

    asyncio.run(scenario())


def test_store_is_bounded_and_evicts_the_least_recently_used() -> None:
    store = MemoryStore(max_sessions=3, clock=FakeClock())

    async def scenario() -> None:
        for name in "abc":
            await store.save(name, record(0), ttl=10)
        await store.load("a", ttl=10)  # a is now the most recently used
        await store.save("d", record(0), ttl=10)
        assert len(store) == 3
        assert await store.load("b", ttl=10) is None
        for name in "acd":
            assert await store.load(name, ttl=10) is not None

    asyncio.run(scenario())


def test_only_if_exists_does_not_resurrect_deleted_or_expired_sessions() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)

    async def scenario() -> None:
        assert await store.save("a", record(1), ttl=10, only_if_exists=True) is False
        await store.save("a", record(1), ttl=10)
        assert await store.save("a", record(2), ttl=10, only_if_exists=True) is True
        await store.delete("a")
        assert await store.save("a", record(3), ttl=10, only_if_exists=True) is False
        await store.save("b", record(1), ttl=10)
        clock.now = 10
        assert await store.save("b", record(2), ttl=10, only_if_exists=True) is False
        assert len(store) == 0
        await store.delete("never-there")

    asyncio.run(scenario())


def test_records_are_the_objects_saved_not_copies() -> None:
    # SPEC §4 (changed by issue 11/12): the memory store keeps session values as
    # the Python objects the handler stored, like MicroPie; it used to keep JSON
    # copies (this test asserted the opposite before).
    store = MemoryStore()

    async def scenario() -> None:
        cart = ["apple"]
        record = {"data": {"cart": cart, "seen": {1, 2}}, "created": 0.0}
        await store.save("a", record, ttl=10)
        cart.append("pear")
        loaded = await store.load("a", ttl=10)
        assert loaded is record and loaded["data"]["cart"] == ["apple", "pear"]

    asyncio.run(scenario())


def test_max_sessions_comes_from_config() -> None:
    app = App(plugins=["sessions"], config={"sessions": {"max_sessions": 5}})
    store = app._sessions.store
    assert isinstance(store, MemoryStore) and store.max_sessions == 5
    with pytest.raises(ConfigError, match=r"max_sessions.*must be positive"):
        App(plugins=["sessions"], config={"sessions": {"max_sessions": 0}})


def test_unknown_store_name_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="micropie-sessions-redis"):
        App(plugins=["sessions"], config={"sessions": {"store": "redis"}})
