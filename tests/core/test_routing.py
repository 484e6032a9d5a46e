from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App
from micropie_core.testing import TestClient
from micropie_core.types import Message

Client = Callable[..., TestClient]


class Site(App):
    _methods = {"submit": ["POST"], "page": ["GET"]}

    async def index(self) -> str:
        return "home"

    async def greet(self, name: str = "Guest") -> str:
        return f"Hello, {name}!"

    def sync_handler(self) -> str:
        import threading

        return "thread" if threading.current_thread() is not threading.main_thread() else "loop"

    async def submit(self) -> str:
        return "submitted"

    async def page(self) -> str:
        return "page body"

    async def _private(self) -> str:
        return "secret"

    async def ws_chat(self) -> str:
        return "not http"

    @property
    def prop(self) -> str:
        return "property"

    @staticmethod
    def helper() -> str:
        return "static"


def test_root_calls_index(client: Client) -> None:
    assert client(Site()).get("/").text == "home"


def test_method_name_with_path_parameter(client: Client) -> None:
    c = client(Site())
    assert c.get("/greet/Alice").text == "Hello, Alice!"
    assert c.get("/greet?name=Bob").text == "Hello, Bob!"
    assert c.get("/greet").text == "Hello, Guest!"
    assert c.get("/greet/").text == "Hello, !"  # SPEC §3: a trailing slash passes ""


def test_unknown_route_is_404_without_catch_all_index(client: Client) -> None:
    response = client(Site()).get("/nope")
    assert response.status_code == 404
    assert response.text == "404 Not Found"


def test_private_ws_properties_statics_and_app_attributes_are_not_routes(client: Client) -> None:
    c = client(Site())
    for path in ["/_private", "/ws_chat", "/prop", "/helper", "/middlewares", "/request",
                 "/startup_handlers", "/shutdown_handlers", "/plugins", "/config",
                 "/_redirect", "/_render_template", "/startup", "/shutdown", "/error_response",
                 "/debug", "/limits", "/__init__", "/__class__"]:
        assert c.get(path).status_code == 404, path


def test_instance_attributes_are_not_routes(client: Client) -> None:
    app = Site()
    app.extra = lambda: "x"  # type: ignore[attr-defined]
    assert client(app).get("/extra").status_code == 404


def test_sync_handlers_run_in_a_worker_thread(client: Client) -> None:
    assert client(Site()).get("/sync_handler").text == "thread"


def test_method_restriction_gives_405_with_allow(client: Client) -> None:
    c = client(Site())
    assert c.post("/submit").text == "submitted"
    response = c.get("/submit")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert c.head("/page").status_code == 200
    assert c.delete("/page").headers["allow"] == "GET, HEAD"


def test_every_method_reaches_an_unrestricted_handler(client: Client) -> None:
    c = client(Site())
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]:
        assert c.request(method, "/greet/X").text == "Hello, X!"


def test_head_is_answered_like_get_without_body(client: Client) -> None:
    response = client(Site()).head("/page")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("page body"))


class CatchAll(App):
    async def index(self, *segments: str) -> dict[str, Any]:
        return {"segments": list(segments)}

    async def known(self) -> str:
        return "known"


def test_index_with_star_args_catches_unknown_paths(client: Client) -> None:
    c = client(CatchAll())
    assert c.get("/a/b/c").json() == {"segments": ["a", "b", "c"]}
    assert c.get("/").json() == {"segments": []}
    assert c.get("/known").text == "known"
    assert c.get("/middlewares").status_code == 404


class PositionalIndex(App):
    async def index(self, slug: str = "home") -> str:
        return f"slug={slug}"


def test_index_with_positional_parameter_receives_the_first_segment(client: Client) -> None:
    c = client(PositionalIndex())
    assert c.get("/about").text == "slug=about"
    assert c.get("/").text == "slug=home"


class Base(App):
    async def shared(self) -> str:
        return "from base"


class Child(Base):
    shared = None  # type: ignore[assignment]

    async def own(self) -> str:
        return "own"


class GrandChild(Base):
    async def own(self) -> str:
        return "grand"


def test_handlers_from_user_base_classes_route_and_can_be_hidden(client: Client) -> None:
    assert client(GrandChild()).get("/shared").text == "from base"
    assert client(Child()).get("/shared").status_code == 404


def test_bad_method_table_fails_at_construction() -> None:
    class Broken(App):
        _methods = {"missing": ["POST"]}

        async def index(self) -> str:
            return ""

    try:
        Broken()
    except ValueError as exc:
        assert "missing" in str(exc) and "Broken._methods" in str(exc)
    else:
        raise AssertionError("expected ValueError")


@pytest.mark.parametrize(("table", "message"), [
    ({"submit": "POST"}, "got the string 'POST'; write {'submit': ['POST']}"),
    ({"submit": []}, "expects a non-empty list of HTTP method names"),
    ({"submit": ["POST", "GET "]}, "got ['POST', 'GET ']"),
])
def test_a_malformed_method_list_fails_at_construction(
    table: dict[str, Any], message: str
) -> None:
    class Broken(App):
        _methods = table

        async def submit(self) -> str:
            return ""

    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        Broken()


@pytest.mark.parametrize("limit", ["1G", 0, -1, 1.5, True])
def test_a_bad_per_handler_body_limit_fails_at_construction(limit: Any) -> None:
    class Broken(App):
        _max_body_size = {"upload": limit}

        async def upload(self) -> str:
            return ""

    with pytest.raises(ValueError, match=re.escape(
            f"Broken._max_body_size['upload'] expects a positive number of bytes (int) or "
            f"None for no limit, got {limit!r}")):
        Broken()


def test_a_root_path_prefix_in_the_path_is_not_part_of_the_route() -> None:
    # uvicorn --root-path /api sends path "/api/greet/Ann" with root_path "/api".
    with TestClient(Site()) as c:
        def get(path: str, root_path: str) -> tuple[int, str]:
            async def call() -> tuple[int, str]:
                sent: list[Message] = []

                async def receive() -> Message:
                    return {"type": "http.request", "body": b"", "more_body": False}

                async def send(message: Message) -> None:
                    sent.append(message)

                scope = c.build_scope("http", path)
                scope["root_path"] = root_path
                await c.app(scope, receive, send)
                body = b"".join(m.get("body", b"") for m in sent
                                if m["type"] == "http.response.body")
                return int(sent[0]["status"]), body.decode()
            return c.run(call())

        assert get("/api/greet/Ann", "/api") == (200, "Hello, Ann!")
        assert get("/api", "/api") == (200, "home")
        assert get("/greet/Ann", "/api") == (200, "Hello, Ann!")  # a mount that rewrote path
        assert get("/apix/greet", "/api")[0] == 404  # only a whole segment is a prefix
