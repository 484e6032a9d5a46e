"""The WebSocket API, routing, middleware, sessions and broadcast, driven by TestClient."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
from micropie_ws import (
    ConnectionClosed,
    WebSocket,
    WebSocketMiddleware,
    WebSocketState,
)

from micropie_core import App, ConfigError, Request
from micropie_core.testing import TestClient
from micropie_core.testing_websocket import WebSocketDenied, WebSocketDisconnect
from tests.ws.served_app import make_app

Client = Callable[..., TestClient]


class Probe(App):
    """Handlers that report what happened back to the test over the socket."""

    async def ws_send_first(self, ws: WebSocket) -> None:
        try:
            await ws.send_text("too early")
        except RuntimeError as exc:
            await ws.accept()
            await ws.send_text(f"RuntimeError: {exc}")

    async def ws_accept_twice(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.accept()
        except RuntimeError as exc:
            await ws.send_text(f"RuntimeError: {exc}")

    async def ws_states(self, ws: WebSocket) -> None:
        before = ws.client_state
        await ws.accept()
        await ws.send_text(f"{before.value} {ws.client_state.value}")
        try:
            await ws.receive_text()
        except ConnectionClosed as exc:
            assert ws.client_state is WebSocketState.DISCONNECTED
            self.closed_with = exc.code

    async def ws_after_close(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(4000, "bye")
        try:
            await ws.send_text("ghost")
        except ConnectionClosed as exc:
            self.after_close = exc.code

    async def ws_refuse(self, ws: WebSocket) -> None:
        await ws.close()

    async def ws_silent(self, ws: WebSocket) -> None:
        return None

    async def ws_bad_json(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json()

    async def ws_bad_subprotocol(self, ws: WebSocket) -> None:
        await ws.accept(subprotocol="not-offered")

    async def ws_tags(self, ws: WebSocket, *tags: str) -> None:
        await ws.accept()
        await ws.send_json(list(tags))

    async def ws_opts(self, ws: WebSocket, n: int, flag: bool = False, **extra: str) -> None:
        await ws.accept()
        await ws.send_json({"n": n, "flag": flag, "extra": extra})

    async def ws_no_socket(self) -> None:
        pass

    async def ws_room(self, ws: WebSocket, room: str) -> None:
        await ws.accept()
        await ws.join(room)
        await ws.send_text("joined")
        async for message in ws:
            if message == "leave":
                await ws.leave(room)
                await ws.send_text("left")
            else:
                sent = await self.broadcast(room, {"from": message})  # type: ignore[attr-defined]
                await ws.send_text(f"sent to {sent}")


def test_misuse_raises_clear_runtime_errors(client: Client) -> None:
    c = client(Probe())
    with c.websocket_connect("/send_first") as ws:
        assert 'Call "await ws.accept()"' in ws.receive_text()
    with c.websocket_connect("/accept_twice") as ws:
        assert "already called" in ws.receive_text()


def test_client_state_and_disconnect(client: Client) -> None:
    app = Probe()
    c = client(app)
    with c.websocket_connect("/states") as ws:
        assert ws.receive_text() == "connecting connected"
        ws.close(1001)
    assert app.closed_with == 1001


def test_send_after_close_raises_connection_closed(client: Client) -> None:
    app = Probe()
    c = client(app)
    with c.websocket_connect("/after_close") as ws, pytest.raises(WebSocketDisconnect) as exc:
        ws.receive_text()
    assert (exc.value.code, exc.value.reason) == (4000, "bye")
    assert app.after_close == 4000


def test_closing_or_returning_before_accept_refuses_the_handshake(client: Client) -> None:
    c = client(Probe())
    for path in ("/refuse", "/silent"):
        with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(path):
            pass
        assert exc.value.status_code == 403


def test_invalid_json_closes_with_1007(client: Client) -> None:
    c = client(Probe())
    with c.websocket_connect("/bad_json") as ws:
        ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_text()
    assert exc.value.code == 1007


def test_accepting_a_subprotocol_the_client_did_not_offer_fails_the_handshake(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(Probe())
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
        "/bad_subprotocol", subprotocols=["chat"]
    ):
        pass
    assert exc.value.status_code == 500
    assert "did not offer it" in caplog.text


def test_var_positional_keyword_and_typed_binding(client: Client) -> None:
    c = client(Probe())
    with c.websocket_connect("/tags/a/b/c") as ws:
        assert ws.receive_json() == ["a", "b", "c"]
    with c.websocket_connect("/opts/3?flag=yes&colour=red") as ws:
        assert ws.receive_json() == {"n": 3, "flag": True, "extra": {"colour": "red"}}


def test_a_ws_method_without_the_socket_parameter_is_refused_and_explained(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(Probe())
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect("/no_socket"):
        pass
    assert exc.value.status_code == 500
    assert "must take the WebSocket as its first parameter" in caplog.text


def test_ws_handlers_are_not_http_routes_and_http_still_works(client: Client) -> None:
    c = client(make_app())
    assert c.get("/").text == "http still works"
    assert c.get("/echo").status_code == 404
    assert c.get("/ws_echo").status_code == 404


def test_explicit_routing_keeps_path_parameters(client: Client) -> None:
    c = client(make_app())
    with c.websocket_connect("/rooms/kitchen?user=zed") as ws:
        assert ws.receive_text() == "joined kitchen"
        ws.send_text("hi")
        assert ws.receive_text() == "zed: hi"


def test_middleware_rejection_and_after_websocket(client: Client) -> None:
    events: list[str] = []

    class Recorder(WebSocketMiddleware):
        def before_websocket(  # type: ignore[override]  # a sync method is fine too
            self, request: Request
        ) -> dict[str, Any] | None:
            events.append(f"before {request.path}")
            if request.query("deny"):
                return {"status_code": 401, "reason": "who are you?"}
            return None

        async def after_websocket(self, request: Request) -> None:
            events.append(f"after {request.path}")

    app = make_app()
    app.ws_middlewares.insert(0, Recorder())  # type: ignore[attr-defined]
    c = client(app)
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect("/echo?deny=1"):
        pass
    assert (exc.value.status_code, exc.value.text) == (401, "who are you?")
    with c.websocket_connect("/echo") as ws:
        ws.send_text("x")
        assert ws.receive_text() == "x"
    assert events == ["before /echo", "before /echo", "after /echo"]


def test_rejection_without_the_denial_extension_closes_with_the_code(client: Client) -> None:
    c = client(make_app())
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
        "/private", denial_response=False
    ):
        pass
    assert exc.value.close_code == 4001


def test_origin_allow_list(client: Client) -> None:
    c = client(make_app(allowed_origins=["https://app.example.com"]))
    with c.websocket_connect("/echo", headers={"origin": "https://app.example.com:443"}) as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "ok"
    for origin in ("http://testserver", "null", "https://app.example.com.evil.io"):
        with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
            "/echo", headers={"origin": origin}
        ):
            pass
        assert exc.value.status_code == 403
    c2 = client(make_app(allowed_origins=["*"]))
    with c2.websocket_connect("/echo", headers={"origin": "https://anywhere.example"}) as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "ok"


def test_a_wildcard_inside_an_origin_is_a_config_error_not_a_silent_no_match() -> None:
    with pytest.raises(ConfigError, match=r"wildcards inside an origin are not supported"):
        make_app(allowed_origins=["https://*.example.com"])


def test_max_message_size_is_configurable(client: Client) -> None:
    c = client(make_app(max_message_size=10))
    with c.websocket_connect("/echo") as ws:
        ws.send_text("é" * 5)  # 10 bytes: fits
        assert ws.receive_text() == "é" * 5
        ws.send_text("é" * 6)  # 6 characters, 12 bytes: too big
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_text()
    assert exc.value.code == 1009


def test_session_cookie_comes_with_accept_and_later_changes_are_saved(client: Client) -> None:
    c = client(make_app())
    with c.websocket_connect("/visit") as ws:
        assert "session_id=" in (ws.accept_headers.get("set-cookie") or "")
        assert ws.receive_json() == {"visits": 1}
        ws.send_text("remember me")
        assert ws.receive_text() == "noted"
    assert "session_id" in c.cookies  # taken into the jar from the accept
    assert c.get("/me").json() == {"visits": 1, "note": "remember me"}
    with c.websocket_connect("/visit") as ws:
        assert ws.accept_headers.get("set-cookie") is None  # same session, no new cookie
        assert ws.receive_json() == {"visits": 2}
        ws.send_text("again")
        assert ws.receive_text() == "noted"
    assert c.get("/me").json() == {"visits": 2, "note": "again"}


def test_session_from_http_login_is_visible(client: Client) -> None:
    c = client(make_app())
    with c.websocket_connect("/whoami") as ws:
        assert ws.receive_text() == "anonymous"
    c.get("/login/ann")
    with c.websocket_connect("/whoami") as ws:
        assert ws.receive_text() == "ann"


def test_in_process_broadcast_join_and_leave(client: Client) -> None:
    c = client(Probe())
    with c.websocket_connect("/room/a") as one, c.websocket_connect("/room/a") as two, \
            c.websocket_connect("/room/b") as other:
        for ws in (one, two, other):
            assert ws.receive_text() == "joined"
        one.send_text("hi")
        replies = {one.receive_text(), one.receive_text()}
        assert replies == {"sent to 2", '{"from":"hi"}'}
        assert two.receive_json() == {"from": "hi"}
        two.send_text("leave")
        assert two.receive_text() == "left"
        one.send_text("again")
        assert {one.receive_text(), one.receive_text()} == {"sent to 1", '{"from":"again"}'}
        other.send_text("b only")
        assert {other.receive_text(), other.receive_text()} == {"sent to 1",
                                                                  '{"from":"b only"}'}


def test_broadcast_from_outside_a_handler_and_bad_values(client: Client) -> None:
    app = Probe()
    c = client(app)
    with c.websocket_connect("/room/news") as ws:
        assert ws.receive_text() == "joined"
        assert c.run(app.broadcast("news", b"\x01bin")) == 1  # type: ignore[attr-defined]
        assert ws.receive_bytes() == b"\x01bin"
        assert c.run(app.broadcast("nobody-here", "x")) == 0  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="JSON-serialisable"):
            c.run(app.broadcast("news", object()))  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="non-empty str"):
            c.run(app.broadcast("", "x"))  # type: ignore[attr-defined]


def test_async_use_of_the_test_session() -> None:
    async def scenario() -> None:
        async with TestClient(make_app()) as c, c.websocket_connect("/echo") as ws:
            await ws.asend_bytes(b"abc")
            assert await ws.areceive_bytes() == b"abc"
            await ws.asend_json({"a": 1})
            assert await ws.areceive_text() == '{"a":1}'

    asyncio.run(scenario())


def test_handler_crash_is_logged_and_closes_1011(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(make_app())
    with caplog.at_level(logging.ERROR, logger="micropie"), c.websocket_connect("/crash") as ws:
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_text()
    assert (exc.value.code, exc.value.reason) == (1011, "Internal error")
    assert "secret detail" in caplog.text and caplog.records[-1].exc_info


def test_without_the_plugin_the_core_closes_websockets(client: Client) -> None:
    class HttpOnly(App):
        async def index(self) -> str:
            return "http only"

    c = client(HttpOnly(block_plugins=["ws"]))
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect("/states"):
        pass
    assert exc.value.close_code == 1008


def test_ws_handlers_without_the_plugin_fail_at_construction_naming_the_package() -> None:
    with pytest.raises(ConfigError, match=r"ws_states.*pip install micropie-ws"):
        Probe(block_plugins=["ws"])


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="allowed_origins"):
        make_app(allowed_origins=["example.com"])
    with pytest.raises(ConfigError, match="broadcast_url"):
        make_app(broadcast_url="http://localhost:6379")
    with pytest.raises(ConfigError, match="max_message_size"):
        make_app(max_message_size=0)
    with pytest.raises(ConfigError, match="Did you mean 'max_message_size'"):
        make_app(max_message_sise=10)


def test_plugin_is_discoverable_through_its_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="micropie")}
    assert found.get("ws") == "micropie_ws.plugin"
    assert "ws" in App().plugins.active_names()


def test_the_micropie_guide_snippet_runs_unchanged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class TalkToMe(App):
        async def ws_chat(self, ws):  # type: ignore[no-untyped-def]
            await ws.accept()
            while True:
                msg = await ws.receive_text()
                await ws.send_text(f"You said: {msg}")

    c = client(TalkToMe())
    with caplog.at_level(logging.INFO, logger="micropie"), c.websocket_connect("/chat") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "You said: hello"
    assert caplog.records == []  # the client leaving is a normal end, not a crash


class Closer(App):
    async def ws_close_with(self, ws: WebSocket, code: int) -> None:
        await ws.accept()
        try:
            await ws.close(code)
        except ValueError as exc:
            await ws.send_text(f"ValueError: {exc}")


@pytest.mark.parametrize("code", [1004, 1005, 1006, 1015, 999, 2000, 5000])
def test_close_codes_that_cannot_go_on_the_wire_are_refused(client: Client, code: int) -> None:
    # uvicorn's protocol layer raises on 1004-1006/1015: the client would see a dropped
    # connection and the log a crash, so close() says so first.
    with client(Closer()).websocket_connect(f"/close_with/{code}") as ws:
        assert "are reserved and never sent" in ws.receive_text()


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1014, 3000, 4999])
def test_valid_close_codes_reach_the_client(client: Client, code: int) -> None:
    with client(Closer()).websocket_connect(f"/close_with/{code}") as ws, \
            pytest.raises(WebSocketDisconnect) as exc:
        ws.receive_text()
    assert exc.value.code == code


def test_refusal_by_close_fits_the_reason_in_a_close_frame(client: Client) -> None:
    # Without the denial extension the refusal is a close frame, whose reason may hold
    # 123 bytes; the 400 text quotes the client's value, here 200 two-byte characters.
    c = client(make_app())
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
        "/add/" + "é" * 200, denial_response=False
    ):
        pass
    assert exc.value.close_code == 1008
    assert "expected int" in exc.value.close_reason
    assert len(exc.value.close_reason.encode("utf-8")) <= 123


def test_a_rejection_with_an_unsendable_close_code_falls_back_to_1008(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Odd(WebSocketMiddleware):
        async def before_websocket(self, request: Request) -> dict[str, Any] | None:
            return {"code": 1006, "reason": "no"}

    app = make_app()
    app.ws_middlewares.insert(0, Odd())  # type: ignore[attr-defined]
    with pytest.raises(WebSocketDenied) as exc, client(app).websocket_connect(
        "/echo", denial_response=False
    ):
        pass
    assert (exc.value.close_code, exc.value.close_reason) == (1008, "no")
    assert "close code 1006, which cannot be sent" in caplog.text


@pytest.mark.parametrize(("host", "origin", "allowed"), [
    ("example.com", "http://example.com", True),
    ("example.com", "HTTP://Example.COM:80", True),
    ("example.com:8000", "http://example.com:8000", True),
    ("[::1]:8000", "http://[::1]:8000", True),
    ("example.com:8000", "http://example.com", False),  # another port is another origin
    ("example.com", "http://example.com:8000", False),
    ("example.com", "null", False),  # sandboxed iframes, file:// pages
    ("example.com", "http://example.com.evil.io", False),
    ("example.com", "http://example.com/path", False),  # not an origin
    ("example.com", "http://example.com:99999", False),
])
def test_default_origin_policy_is_same_host_and_port(
    client: Client, host: str, origin: str, allowed: bool
) -> None:
    c = client(make_app(), base_url=f"http://{host}")
    if allowed:
        with c.websocket_connect("/echo", headers={"origin": origin}) as ws:
            ws.send_text("ok")
            assert ws.receive_text() == "ok"
    else:
        with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
            "/echo", headers={"origin": origin}
        ):
            pass
        assert exc.value.status_code == 403


def test_the_test_session_refuses_to_send_once_closed(client: Client) -> None:
    c = client(make_app())
    with c.websocket_connect("/echo") as ws:
        ws.send_text("a")
        assert ws.receive_text() == "a"
    with pytest.raises(WebSocketDisconnect):  # used to vanish without a trace
        ws.send_text("after the client closed")
    with c.websocket_connect("/") as ws:
        assert ws.receive_text() == "root"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.send_text("after the app closed")
        assert exc.value.code == 1000
