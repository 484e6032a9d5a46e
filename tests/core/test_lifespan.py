from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from micropie_core import App, hookimpl
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "ok"


def test_startup_and_shutdown_handlers_run_in_order() -> None:
    events: list[str] = []

    class Plugin:
        @hookimpl
        async def startup(self) -> None:
            events.append("plugin startup")

        @hookimpl
        def shutdown(self) -> None:
            events.append("plugin shutdown")

    app = Site(plugins=[Plugin()])

    async def wake() -> None:
        events.append("startup handler")

    async def sleep() -> None:
        events.append("shutdown handler")

    app.startup_handlers.append(wake)
    app.shutdown_handlers.append(sleep)
    with TestClient(app) as c:
        assert events == ["plugin startup", "startup handler"]
        c.get("/")
    assert events == ["plugin startup", "startup handler", "shutdown handler", "plugin shutdown"]


def test_startup_failure_is_reported_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = Site()

    async def broken() -> None:
        raise ConnectionError("database is down")

    app.startup_handlers.append(broken)
    with (
        caplog.at_level(logging.ERROR, logger="micropie"),
        pytest.raises(RuntimeError) as info,
        TestClient(app),
    ):
        pass
    assert "ConnectionError: database is down" in str(info.value)
    assert "Application startup failed" in caplog.text
    assert "database is down" in caplog.text


def test_shutdown_runs_every_handler_even_if_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    events: list[str] = []
    app = Site()

    async def broken() -> None:
        raise RuntimeError("close failed")

    async def other() -> None:
        events.append("other ran")

    app.shutdown_handlers.extend([broken, other])
    client = TestClient(app).__enter__()
    with caplog.at_level(logging.ERROR, logger="micropie"), pytest.raises(RuntimeError):
        client.close()
    assert events == ["other ran"]
    assert "Application shutdown failed" in caplog.text


def test_startup_runs_once_even_without_lifespan() -> None:
    events: list[str] = []
    app = Site()

    async def wake() -> None:
        events.append("up")

    app.startup_handlers.append(wake)
    with TestClient(app, lifespan=False) as c:
        c.get("/")
        c.get("/")
    assert events == ["up"]
