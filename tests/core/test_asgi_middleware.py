"""The ``register_asgi_middleware`` hook: plugins wrap the whole app in ASGI middleware."""

from __future__ import annotations

from typing import Any

import pytest

from micropie_core import App, ConfigError, hookimpl
from micropie_core.testing import TestClient
from micropie_core.types import ASGIApp, Message, Receive, Scope, Send
from tests.core.test_middleware import MountAt


class Tag:
    """Adds ``x-layers: <name>`` to HTTP responses and records every scope type it sees."""

    def __init__(self, inner: ASGIApp, name: str, seen: list[str]) -> None:
        self.inner = inner
        self.name = name
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(f"{self.name}:{scope['type']}")
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-layers", self.name.encode())]
            await send(message)

        await self.inner(scope, receive, tagged)


class Site(App):
    async def index(self) -> str:
        return "home"


def _plugin(name: str, seen: list[str]) -> object:
    class Plugin:
        @staticmethod
        @hookimpl
        def register_asgi_middleware(app: App) -> list[Any]:
            return [lambda inner: Tag(inner, name, seen)]

    Plugin.__name__ = f"plugin_{name}"
    return Plugin


def test_wrappers_see_every_scope_type_and_the_first_called_is_outermost() -> None:
    seen: list[str] = []
    # The most recently registered plugin is called first, so "outer" is outermost.
    app = Site(plugins=[_plugin("inner", seen), _plugin("outer", seen)])
    with TestClient(app) as client:
        response = client.get("/")
    assert response.text == "home"
    # The inner wrapper added its header first; the outer one appended after it.
    assert response.headers.getlist("x-layers") == ["inner", "outer"]
    assert seen[:2] == ["outer:lifespan", "inner:lifespan"]
    assert seen[2:4] == ["outer:http", "inner:http"]


def test_a_wrapper_can_answer_without_reaching_the_app() -> None:
    class Gate:
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/blocked":
                await send({"type": "http.response.start", "status": 403, "headers": []})
                await send({"type": "http.response.body", "body": b"no"})
                return
            await self.inner(scope, receive, send)

    class GatePlugin:
        @staticmethod
        @hookimpl
        def register_asgi_middleware(app: App) -> list[Any]:
            return [Gate]

    with TestClient(Site(plugins=[GatePlugin])) as client:
        assert client.get("/blocked").status_code == 403
        assert client.get("/").text == "home"


def test_a_plugin_returning_none_adds_no_layer() -> None:
    class Off:
        @staticmethod
        @hookimpl
        def register_asgi_middleware(app: App) -> None:
            return None

    app = Site(plugins=[Off])
    assert app._asgi_stack is None
    with TestClient(app) as client:
        assert client.get("/").text == "home"


def test_a_mounted_sub_app_runs_its_own_wrappers() -> None:
    seen: list[str] = []

    class Child(App):
        async def index(self) -> str:
            return "child"

    child = Child(plugins=[_plugin("child", seen)])

    parent = Site(plugins=[_plugin("parent", seen)])
    parent.middlewares.append(MountAt("/sub", child))
    with TestClient(parent) as client:
        response = client.get("/sub")
    assert response.text == "child"
    assert response.headers.getlist("x-layers") == ["child", "parent"]


def test_a_factory_that_is_not_callable_fails_at_construction() -> None:
    class Bad:
        @staticmethod
        @hookimpl
        def register_asgi_middleware(app: App) -> list[Any]:
            return ["not a factory"]

    with pytest.raises(ConfigError, match="expected a list of callables"):
        Site(plugins=[Bad])
