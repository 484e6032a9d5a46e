"""examples/chat in-process: names in the session, WebSocket broadcast, the SSE fallback's send."""

from __future__ import annotations

import pytest

from micropie_core.testing import TestClient
from micropie_core.testing_websocket import WebSocketDenied
from tests.examples.chat import load_chat


def test_a_name_is_picked_once_and_kept_in_the_session() -> None:
    with TestClient(load_chat().make_app()) as client:
        assert 'action="/join"' in client.get("/").text
        joined = client.post("/join", data={"name": "  Ann  "})
        assert joined.status_code == 302 and joined.headers["location"] == "/"
        page = client.get("/").text
        assert '<strong id="me">Ann</strong>' in page
        assert client.get("/plain").status_code == 200
        assert client.post("/leave").status_code == 302
        assert 'action="/join"' in client.get("/").text


def test_joining_rotates_the_session_id() -> None:
    with TestClient(load_chat().make_app()) as client:
        client.post("/join", data={"name": "Ann"})
        first = client.cookies["session_id"]
        client.post("/join", data={"name": "Bob"})
        assert client.cookies["session_id"] != first


def test_names_are_escaped_and_bounded() -> None:
    with TestClient(load_chat().make_app()) as client:
        assert client.post("/join", data={"name": "x" * 33}).status_code == 400
        assert client.post("/join", data={"name": "   "}).status_code == 400
        client.post("/join", data={"name": "<b>Ann</b>"})
        assert "&lt;b&gt;Ann&lt;/b&gt;" in client.get("/").text


def test_messages_reach_every_websocket_and_the_fallback_can_send() -> None:
    app = load_chat().make_app()
    with TestClient(app) as ann, TestClient(app) as bob:
        ann.post("/join", data={"name": "Ann"})
        bob.post("/join", data={"name": "Bob"})
        with ann.websocket_connect("/chat") as ann_ws:
            assert ann_ws.receive_json() == {"info": "Ann joined"}
            with bob.websocket_connect("/chat") as bob_ws:
                assert bob_ws.receive_json() == {"info": "Bob joined"}
                assert ann_ws.receive_json() == {"info": "Bob joined"}
                ann_ws.send_text("hello <b>")
                assert bob_ws.receive_json() == {"name": "Ann", "text": "hello <b>"}
                assert ann_ws.receive_json() == {"name": "Ann", "text": "hello <b>"}
                assert bob.post("/say", data={"text": "from the fallback"}).status_code == 204
                assert ann_ws.receive_json() == {"name": "Bob", "text": "from the fallback"}


def test_without_a_name_the_websocket_and_say_are_refused() -> None:
    with TestClient(load_chat().make_app()) as client:
        with pytest.raises(WebSocketDenied) as refused, client.websocket_connect("/chat"):
            pass
        assert refused.value.status_code == 403
        assert client.post("/say", data={"text": "hi"}).status_code == 403
