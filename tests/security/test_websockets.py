"""WebSockets: hostile handshakes and messages close the socket, the app keeps serving."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from micropie_ws import WebSocket

from micropie_core import App
from micropie_core.cookies import MAX_COOKIE_HEADER_SIZE
from micropie_core.testing import TestClient
from micropie_core.testing_websocket import WebSocketDenied, WebSocketDisconnect
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Chat(App):
    async def index(self) -> str:
        return "ok"

    async def ws_echo(self, ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            await ws.send_text(message if isinstance(message, str) else message.hex())

    async def ws_room(self, ws: WebSocket, name: str) -> None:
        await ws.accept()
        await ws.send_text(name)


def chat(**ws_config: object) -> Chat:
    return Chat(config={"ws": ws_config} if ws_config else None)


def assert_echo_works(c: TestClient) -> None:
    with c.websocket_connect("/echo") as ws:
        ws.send_text("still here")
        assert ws.receive_text() == "still here"
    assert_still_serving(c)


def test_a_message_over_the_size_limit_closes_with_1009(client: Client) -> None:
    c = client(chat(max_message_size=1024))
    with c.websocket_connect("/echo") as ws:
        ws.send_bytes(b"x" * 1025)
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_text()
    assert exc.value.code == 1009
    assert_echo_works(c)


def test_a_cross_site_origin_is_refused_with_403(client: Client) -> None:
    c = client(chat())
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
        "/echo", headers={"origin": "https://evil.example"}
    ):
        pass
    assert exc.value.status_code == 403
    assert_echo_works(c)


@pytest.mark.parametrize(("path", "status"), [
    ("/room/%2e%2e", 404), ("/room/a%00b", 404), ("/room/%ff", 400), ("/_private", 404),
])
def test_hostile_paths_are_refused_at_the_handshake(client: Client, path: str,
                                                    status: int) -> None:
    c = client(chat())
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(path):
        pass
    assert exc.value.status_code == status
    assert_echo_works(c)


def test_an_encoded_slash_stays_in_its_segment(client: Client) -> None:
    c = client(chat())
    with c.websocket_connect("/room/a%2Fb") as ws:
        assert ws.receive_text() == "a/b"


def test_an_oversized_cookie_header_is_refused_with_400(client: Client) -> None:
    c = client(chat())
    cookie = "session_id=" + "A" * 43 + "; pad=" + "x" * MAX_COOKIE_HEADER_SIZE
    with pytest.raises(WebSocketDenied) as exc, c.websocket_connect(
        "/echo", headers={"cookie": cookie}
    ):
        pass
    assert exc.value.status_code == 400
    assert_echo_works(c)


def test_invalid_utf8_and_odd_frames_do_not_break_the_server(client: Client) -> None:
    c = client(chat())
    with c.websocket_connect("/echo") as ws:
        ws.send({"type": "websocket.receive", "bytes": b"\xff\xfe"})
        assert ws.receive_text() == "fffe"
        ws.send({"type": "websocket.receive"})  # neither text nor bytes: an empty message
        assert ws.receive_text() == ""
    assert_echo_works(c)
