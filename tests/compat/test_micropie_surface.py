"""MicroPie 0.32's documented surface (issue 11): names, arguments, attributes, behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import micropie_core
from micropie_core import App, ConfigError, HttpMiddleware, Request
from micropie_core.testing import TestClient
from tests.core.test_middleware import MountAt

Client = Callable[..., TestClient]


def test_micropie_names_are_importable() -> None:
    from micropie_ws import ConnectionClosed, WebSocket, WebSocketMiddleware, WebSocketRequest

    assert micropie_core.DEFAULT_MAX_BODY_SIZE == 16 * 1024 * 1024
    assert micropie_core.DEFAULT_MAX_FORM_FIELD_SIZE == 1024 * 1024
    assert micropie_core.SESSION_TIMEOUT == 8 * 3600
    assert micropie_core.MULTIPART_INSTALLED is True
    assert isinstance(micropie_core.JINJA_INSTALLED, bool)
    assert issubclass(micropie_core.MultipartFileError, micropie_core.HTTPError)
    assert issubclass(micropie_core.InMemorySessionBackend, micropie_core.SessionBackend)
    assert all((ConnectionClosed, WebSocket, WebSocketMiddleware, WebSocketRequest))


def test_in_memory_session_backend_loads_what_it_saved() -> None:
    backend = micropie_core.InMemorySessionBackend()

    async def scenario() -> None:
        await backend.save("abc", {"user": "ann"}, micropie_core.SESSION_TIMEOUT)
        assert await backend.load("abc") == {"user": "ann"}
        assert backend.sessions["abc"] == {"user": "ann"}
        await backend.save("abc", {"user": "ann"}, 0)  # a non-positive timeout deletes
        assert await backend.load("abc") == {} and "abc" not in backend.sessions

    asyncio.run(scenario())


def test_constructor_arguments_have_micropie_meaning_and_attributes() -> None:
    def factory() -> str:
        return "signed.fresh"

    def validator(value: str) -> str | None:
        return value if value.startswith("signed.") else None

    app = App(session_timeout=123, session_cookie_secure=False, session_id_factory=factory,
              session_id_validator=validator, max_form_field_size=10, body_timeout=3)
    assert app.config["sessions"]["ttl"] == 123 and app.session_timeout == 123
    assert app.session_cookie_secure is False and app.config["sessions"]["secure"] is False
    assert app.session_id_factory is factory and app.session_id_validator is validator
    assert app.max_form_field_size == 10 and app.limits.max_field_size == 10
    assert app.body_timeout == 3 and app.limits.body_total_timeout == 60
    assert app.max_body_size == micropie_core.DEFAULT_MAX_BODY_SIZE
    assert isinstance(app.session_backend, micropie_core.InMemorySessionBackend)
    assert App(plugins=[]).env is None
    unbounded = App(body_timeout=None, max_body_size=None, max_form_field_size=None)
    assert (unbounded.body_timeout, unbounded.max_body_size,
            unbounded.max_form_field_size) == (None, None, None)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"body_timeout": 0}, "body_timeout"),
    ({"max_body_size": 0}, "max_body_size"),
    ({"max_form_field_size": 0}, "max_form_field_size"),
    ({"session_timeout": 0}, "session_timeout"),
    ({"session_id_factory": None}, "session_id_factory"),
    ({"session_id_validator": "not-callable"}, "session_id_validator"),
])
def test_bad_micropie_arguments_fail_naming_the_argument(kwargs: dict[str, Any],
                                                          named: str) -> None:
    with pytest.raises(ValueError, match=named):
        App(**kwargs)


def test_one_setting_given_both_ways_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"session_timeout.*'ttl'"):
        App(session_timeout=5, config={"sessions": {"ttl": 6}})
    with pytest.raises(ConfigError, match=r"max_field_size.*max_form_field_size"):
        App(max_field_size=5, max_form_field_size=6)


def test_custom_session_id_policy(client: Client) -> None:
    class Site(App):
        async def login(self) -> str:
            self.request.session["user"] = "ann"
            return "ok"

        async def me(self) -> str:
            return str(self.request.session.get("user"))

    app = Site(session_id_factory=lambda: "signed.fresh",
               session_id_validator=lambda v: v if v.startswith("signed.") else None)
    c = client(app)
    response = c.get("/login")
    assert response.cookies["session_id"] == "signed.fresh"
    assert c.get("/me").text == "ann"
    assert client(app).get("/me", cookies={"session_id": "forged"}).text == "None"


class Router(HttpMiddleware):
    """MicroPie's examples/middleware/router.py pattern, reduced."""

    async def before_request(self, request: Request) -> None:
        parts = request.path.strip("/").split("/")
        if parts[:1] == ["api"] and len(parts) == 3:
            request.path_params = [parts[1], parts[2]]
            request._route_handler = "_get_record"
        elif parts[:1] == ["typed"] and len(parts) == 3:
            # MicroPie's examples/explicit_routing converts {record:int} itself.
            request.path_params = [parts[1], int(parts[2])]
            request._route_handler = "_get_record"
        elif parts[:1] == ["raw"]:
            request._route_handler = "_echo"


class Records(App):
    def __init__(self) -> None:
        super().__init__()
        self.middlewares.append(Router())

    async def _get_record(self, user: str, record: int) -> dict[str, Any]:
        return {"user": user, "record": record}

    async def _echo(self, *parts: str) -> str:
        return "/".join(parts)


def test_explicit_routing_reaches_private_handlers(client: Client) -> None:
    c = client(Records())
    assert c.get("/api/ann/7").json() == {"user": "ann", "record": 7}
    # Values the middleware already converted reach the handler as they are.
    assert c.get("/typed/ann/7").json() == {"user": "ann", "record": 7}
    # No path_params from the middleware: the segments after the first.
    assert c.get("/raw/a/b").text == "a/b"
    # Never routed implicitly.
    assert c.get("/_get_record/ann/7").status_code == 404
    assert c.get("/_echo").status_code == 404


def test_json_without_a_json_body_is_an_empty_dict(client: Client) -> None:
    class Echo(App):
        async def index(self) -> dict[str, Any]:
            return {"json": self.request.json(), "default": self.request.json(default=[])}

    assert client(Echo()).get("/").json() == {"json": {}, "default": []}
    assert Request({"type": "http", "json_body": {"a": 1}}).json("a") == 1


def test_session_cookie_is_secure_by_default_and_switchable_off(client: Client) -> None:
    class Site(App):
        async def index(self) -> str:
            self.request.session["n"] = 1
            return "ok"

    def cookie(app: App) -> str:
        return client(app).get("/").headers["set-cookie"]

    assert "; Secure" in cookie(Site())
    assert "; Secure" not in cookie(Site(config={"sessions": {"secure": False}}))
    assert "; Secure" not in cookie(Site(session_cookie_secure=False))


def test_mounted_sub_app_shares_the_parents_session(client: Client) -> None:
    class Api(App):
        async def visits(self) -> str:
            self.request.session["visits"] = self.request.session.get("visits", 0) + 1
            return str(self.request.session["visits"])

    class Main(App):
        async def seen(self) -> str:
            return str(self.request.session.get("visits", 0))

    main = Main()
    main.middlewares.append(MountAt("/api", Api()))
    c = client(main)
    assert c.get("/api/visits").text == "1"
    assert c.get("/api/visits").text == "2"
    assert c.get("/seen").text == "2"  # the parent sees what the child wrote


def test_websocket_session_written_after_accept_is_saved(client: Client) -> None:
    class Chat(App):
        async def ws_chat(self, ws: Any) -> None:
            await ws.accept()
            assert ws.session_id is not None
            self.request.session["room"] = await ws.receive_text()
            await ws.close(1000, None)

        async def room(self) -> str:
            return str(self.request.session.get("room"))

    c = client(Chat())
    with c.websocket_connect("/chat") as ws:
        assert "session_id=" in (ws.accept_headers.get("set-cookie") or "")
        ws.send_text("lobby")
    assert c.get("/room").text == "lobby"


def test_websocket_accept_with_a_session_id(client: Client) -> None:
    class Chat(App):
        async def ws_chat(self, ws: Any) -> None:
            await ws.accept(session_id="signed.explicit")
            self.request.session["user"] = "ann"
            await ws.close()

        async def me(self) -> str:
            return str(self.request.session.get("user"))

    c = client(Chat(session_id_validator=lambda v: v if v.startswith("signed.") else None))
    with c.websocket_connect("/chat") as ws:
        assert (ws.accept_headers.get("set-cookie") or "").startswith(
            "session_id=signed.explicit;")
    assert c.get("/me").text == "ann"
