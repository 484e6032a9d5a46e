from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, HttpMiddleware, Request, UploadedFile
from micropie_core.testing import TestClient
from micropie_core.types import Receive, Scope, Send

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "home"

    async def secret(self) -> str:
        return "secret"

    async def item(self, item_id: str) -> str:
        return f"item {item_id}"

    async def form(self) -> str:
        return "handler"


class Guard(HttpMiddleware):
    async def before_request(self, request: Request) -> dict[str, Any] | None:
        if request.path.startswith("/secret"):
            return {"status_code": 403, "body": "Forbidden", "headers": [("X-Why", "guard")]}
        return None


class Stamp(HttpMiddleware):
    def __init__(self) -> None:
        self.seen: list[tuple[int, Any]] = []

    async def after_request(
        self, request: Request, status_code: int, response_body: Any,
        extra_headers: list[tuple[str, str]],
    ) -> dict[str, Any] | None:
        self.seen.append((status_code, response_body))
        return {"headers": [*extra_headers, ("X-Stamp", "1")], "status_code": 201}


def test_before_request_can_short_circuit(client: Client) -> None:
    app = Site()
    app.middlewares.append(Guard())
    c = client(app)
    response = c.get("/secret")
    assert response.status_code == 403
    assert response.text == "Forbidden"
    assert response.headers["x-why"] == "guard"
    assert c.get("/").text == "home"


def test_after_request_sees_and_overrides_the_response(client: Client) -> None:
    app = Site()
    stamp = Stamp()
    app.middlewares.append(stamp)
    response = client(app).get("/")
    assert response.status_code == 201
    assert response.headers["x-stamp"] == "1"
    assert response.text == "home"
    assert stamp.seen == [(200, "home")]


def test_middlewares_run_in_list_order(client: Client) -> None:
    order: list[str] = []

    class Named(HttpMiddleware):
        def __init__(self, name: str) -> None:
            self.name = name

        async def before_request(self, request: Request) -> None:
            order.append(self.name)

    app = Site()
    app.middlewares.extend([Named("a"), Named("b")])
    client(app).get("/")
    assert order == ["a", "b"]


def test_middleware_body_override(client: Client) -> None:
    class Rewrite(HttpMiddleware):
        async def after_request(self, request: Request, status_code: int, response_body: Any,
                                extra_headers: list[tuple[str, str]]) -> dict[str, Any]:
            return {"body": {"wrapped": response_body}}

    app = Site()
    app.middlewares.append(Rewrite())
    response = client(app).get("/")
    assert response.json() == {"wrapped": "home"}


def test_explicit_routing_from_middleware(client: Client) -> None:
    class Router(HttpMiddleware):
        async def before_request(self, request: Request) -> None:
            if request.path.startswith("/api/items/"):
                request._route_handler = "item"
                request.path_params = [request.path.rsplit("/", 1)[1]]

    app = Site()
    app.middlewares.append(Router())
    assert client(app).get("/api/items/42").text == "item 42"


def test_middleware_sees_parsed_form(client: Client) -> None:
    class Csrf(HttpMiddleware):
        async def before_request(self, request: Request) -> dict[str, Any] | None:
            if request.method == "POST" and request.form("token") != "ok":
                return {"status_code": 403, "body": "bad token"}
            return None

    app = Site()
    app.middlewares.append(Csrf())
    c = client(app)
    assert c.post("/form", data={"token": "no"}).status_code == 403
    assert c.post("/form", data={"token": "ok"}).text == "handler"


def test_middleware_errors_are_500_not_crashes(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(HttpMiddleware):
        async def before_request(self, request: Request) -> None:
            raise KeyError("oops")

    app = Site()
    app.middlewares.append(Broken())
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(app).get("/")
    assert response.status_code == 500
    assert "KeyError" in caplog.text


class MountAt(HttpMiddleware):
    """MicroPie's sub-app mounting: requests under ``prefix`` go to ``child``."""

    def __init__(self, prefix: str, child: Any) -> None:
        self.prefix, self.child = prefix, child

    async def before_request(self, request: Request) -> None:
        if request.path.startswith(self.prefix):
            request._subapp = self.child
            request._subapp_path = request.path[len(self.prefix):] or "/"  # type: ignore[attr-defined]
            request._subapp_mount_path = self.prefix  # type: ignore[attr-defined]


def test_subapp_mounting(client: Client) -> None:
    seen: dict[str, Any] = {}

    async def child(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        seen.update(path=scope["path"], root_path=scope["root_path"], body=message["body"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"from child"})

    app = Site()
    app.middlewares.append(MountAt("/child", child))
    response = client(app).post("/child/x/y", data={"a": "1"})
    assert response.text == "from child"
    assert seen == {"path": "/x/y", "root_path": "/child", "body": b"a=1"}


def test_subapp_mounting_hands_over_a_parsed_multipart_body(client: Client) -> None:
    class Child(App):
        async def upload(self, title: str, doc: UploadedFile) -> dict[str, Any]:
            return {"title": title, "name": doc.filename, "data": (await doc.read()).decode()}

    child = Child()

    app = Site()
    app.middlewares.append(MountAt("/child", child))
    response = client(app).post(
        "/child/upload", data={"title": "report"},
        files={"doc": ("r.txt", b"file body" * 1000, "text/plain")},
    )
    assert response.status_code == 200
    assert response.json() == {"title": "report", "name": "r.txt", "data": "file body" * 1000}
