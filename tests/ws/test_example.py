"""examples/ws_app.py: the chat room works end to end in-process."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from micropie_core.testing import TestClient

Client = Callable[..., TestClient]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ws_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ws_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chat_example(client: Client) -> None:
    c = client(load_example().make_app())
    assert "new WebSocket" in c.get("/").text
    with c.websocket_connect("/chat/den?user=ann") as ann:
        assert ann.receive_json() == {"info": "ann joined"}
        with c.websocket_connect("/chat/den?user=bob") as bob:
            assert bob.receive_json() == {"info": "bob joined"}
            assert ann.receive_json() == {"info": "bob joined"}
            bob.send_text("hi ann")
            assert ann.receive_json() == {"user": "bob", "text": "hi ann"}
            assert bob.receive_json() == {"user": "bob", "text": "hi ann"}
        assert ann.receive_json() == {"info": "bob left"}
