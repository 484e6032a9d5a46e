"""What the ws plugin adds to an App is typed: mypy --strict needs no ignore."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from micropie_ws import WebSocket, WebSocketAttributes, broadcast, broadcaster, ws_middlewares

from micropie_core import App
from micropie_core.testing import TestClient
from tests.support import ROOT

USER_CODE = '''\
from micropie_core import App
from micropie_ws import WebSocket, WebSocketAttributes, broadcast


class Chat(App, WebSocketAttributes):
    async def ws_chat(self, ws: WebSocket, room: str) -> None:
        await ws.accept()
        await ws.join(room)
        async for message in ws:
            sent: int = await self.broadcast(room, {"text": message})
            assert sent >= 0

    async def announce(self, text: str) -> dict[str, int]:
        return {"sent": await broadcast(self, "lobby", text)}


app = Chat()
app.ws_middlewares.clear()
reveal_type(app.broadcast)
'''


def test_a_strict_user_module_type_checks_without_an_ignore(tmp_path: Path) -> None:
    user_file = tmp_path / "user_app.py"
    user_file.write_text(USER_CODE)
    # Run from the checkout so mypy uses its settings (strict; mypy_path pointing at
    # the plugin sources, since editable installs are import hooks mypy cannot
    # follow) and its cache, which scripts/test has just filled.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(user_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Revealed type is "def (str, Any) -> typing.Coroutine[Any, Any, int]"' in result.stdout


class Room(App, WebSocketAttributes):
    async def ws_room(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.join("lobby")
        await ws.receive_text()

    async def announce(self, text: str) -> dict[str, int]:
        return {"sent": await broadcast(self, "lobby", text)}


def test_broadcast_function_and_attribute_reach_the_same_room() -> None:
    app = Room()
    assert broadcaster(app) is app.ws_endpoint.broadcaster  # type: ignore[attr-defined]
    assert ws_middlewares(app) is app.ws_middlewares
    with TestClient(app) as client, client.websocket_connect("/room") as ws:
        client.run(_joined(app))
        assert client.post("/announce", data={"text": "hi"}).json() == {"sent": 1}
        assert ws.receive_text() == "hi"
        assert client.run(app.broadcast("lobby", "again")) == 1
        assert ws.receive_text() == "again"
        ws.send_text("bye")


async def _joined(app: App) -> None:
    # The handler joins right after accept; wait until it has (bounded).
    import asyncio

    for _ in range(200):
        if broadcaster(app).rooms.get("lobby"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the WebSocket never joined the room")


def test_without_the_plugin_the_accessors_say_what_to_install() -> None:
    app = App(block_plugins=["ws"])
    with pytest.raises(RuntimeError, match="pip install micropie-ws"):
        broadcaster(app)
