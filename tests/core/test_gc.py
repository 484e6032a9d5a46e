"""Garbage and the collector: steady-state requests leave no reference cycles, and
the heap built at start-up is frozen (config ``gc.freeze``)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from micropie_core import App, ConfigError
from micropie_core.testing import TestClient
from tests.core.asgi_helpers import drive

FORM = "application/x-www-form-urlencoded"


class Site(App):
    async def index(self) -> str:
        return "Hello, World!"

    async def data(self) -> dict[str, str]:
        return {"message": "Hello, World!"}

    async def greet(self, name: str, greeting: str = "Hello") -> str:
        return f"{greeting}, {name}!"

    async def number(self, value: int) -> str:
        return str(value)

    async def visit(self) -> str:
        visits = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = visits
        return str(visits)

    async def peek(self) -> str:
        return str(self.request.session.get("visits", 0))

    async def ticks(self) -> AsyncIterator[str]:
        for chunk in ("a", "b", "c"):
            yield chunk

    def blocking(self) -> str:
        return "done in a thread"

    async def echo(self, name: str) -> dict[str, str]:
        return {"name": name}

    async def broken(self) -> str:
        raise ValueError("a bug: logged with its traceback, answered 500")


# name: (method, path, headers, body, expected status)
REQUESTS: dict[str, tuple[str, str, list[tuple[str, str]], bytes, int]] = {
    "text": ("GET", "/", [], b"", 200),
    "json": ("GET", "/data", [], b"", 200),
    "greet": ("GET", "/greet/Ann?greeting=Hi", [], b"", 200),
    "not found": ("GET", "/no/such/page", [], b"", 404),
    "missing parameter": ("GET", "/number", [], b"", 400),
    "bad parameter": ("GET", "/number/x", [], b"", 400),
    "session read": ("GET", "/peek", [], b"", 200),
    "session write": ("GET", "/visit", [], b"", 200),
    "stream": ("GET", "/ticks", [], b"", 200),
    "sync handler": ("GET", "/blocking", [], b"", 200),
    "head": ("HEAD", "/", [], b"", 200),
    "handler error": ("GET", "/broken", [], b"", 500),
    "json body": ("POST", "/echo", [("content-type", "application/json")], b'{"name": "x"}', 200),
    "form body": ("POST", "/echo", [("content-type", FORM)], b"name=x", 200),
}


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_steady_state_request_leaves_no_cyclic_garbage(name: str, collector_off: None) -> None:
    method, path, headers, body, status = REQUESTS[name]
    app = Site(plugins=["sessions", "streaming"])

    async def main() -> int:
        await app.startup()
        first = await drive(app, "/visit", [], method="GET")
        cookie = next(v for k, v in first.headers if k == b"set-cookie").split(b";")[0]
        request_headers = [*headers, ("cookie", cookie.decode())]
        if body:
            request_headers.append(("content-length", str(len(body))))
        steps = [{"type": "http.request", "body": body, "more_body": False}] if body else []

        async def one() -> None:
            result = await drive(app, path, steps, method=method, headers=request_headers)
            assert result.status == status, result.text

        for _ in range(20):  # warm: lazy imports done, caches filled
            await one()
        gc.collect()
        for _ in range(50):
            await one()
        found = gc.collect()
        await app.shutdown()
        return found

    assert asyncio.run(main()) == 0


def test_the_heap_is_frozen_after_startup_and_unfrozen_at_shutdown() -> None:
    gc.unfreeze()
    with TestClient(Site(plugins=[])) as client:
        assert client.get("/").status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_config_gc_freeze_false_keeps_the_heap_collectable() -> None:
    gc.unfreeze()
    with TestClient(Site(plugins=[], config={"gc": {"freeze": False}})) as client:
        assert client.get("/").status_code == 200
        assert gc.get_freeze_count() == 0


def test_config_gc_freeze_takes_a_bool() -> None:
    with pytest.raises(ConfigError, match=r"gc\.freeze .*expects bool, got str"):
        Site(plugins=[], config={"gc": {"freeze": "no"}})


def test_objects_frozen_at_startup_are_still_freed_by_reference_counting() -> None:
    import weakref

    class Payload:
        pass

    gc.unfreeze()
    app = Site(plugins=[])
    holder: dict[str, Any] = {"payload": Payload()}
    watcher = weakref.ref(holder["payload"])
    with TestClient(app):
        del holder["payload"]
        assert watcher() is None
