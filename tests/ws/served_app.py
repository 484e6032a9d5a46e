"""The app the WebSocket tests serve with uvicorn (``served_app:app``) and TestClient.

Environment: ``WS_BROADCAST_URL`` (Redis for cross-process broadcast),
``WS_CHANNEL_PREFIX`` and ``WS_SEND_QUEUE_SIZE``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from micropie_ws import BroadcastError, WebSocket, WebSocketMiddleware

from micropie_core import App, Request


class Guard(WebSocketMiddleware):
    """Rejects /private without ?token=letmein; routes /rooms/<room> to ws_chat."""

    async def before_websocket(self, request: Request) -> dict[str, Any] | None:
        if request.path.startswith("/private") and request.query("token") != "letmein":
            return {"code": 4001, "reason": "Login required"}
        if request.path.startswith("/rooms/"):
            request._ws_route_handler = "ws_chat"  # type: ignore[attr-defined]
        return None


class ChatApp(App):
    async def index(self) -> str:
        return "http still works"

    async def login(self, name: str) -> str:
        self.request.session["user"] = name
        return f"logged in as {name}"

    async def me(self) -> dict[str, Any]:
        return dict(self.request.session)

    async def ws_index(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("root")
        await ws.close()

    async def ws_echo(self, ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            if isinstance(message, str):
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)

    async def ws_json(self, ws: WebSocket) -> None:
        await ws.accept()
        while True:
            data = await ws.receive_json()
            await ws.send_json({"got": data})

    async def ws_add(self, ws: WebSocket, a: int, b: int = 0) -> None:
        await ws.accept()
        await ws.send_json({"sum": a + b})

    async def ws_crash(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        raise RuntimeError("secret detail that must not reach the client")

    async def ws_private(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("welcome")

    async def ws_proto(self, ws: WebSocket) -> None:
        await ws.accept(subprotocol="chat.v2" if "chat.v2" in ws.subprotocols else None,
                        headers={"x-server": "micropie"})
        await ws.send_text(f"offered={','.join(ws.subprotocols)}")

    async def ws_whoami(self, ws: WebSocket) -> None:
        user = self.request.session.get("user")
        await ws.accept()
        await ws.send_text(user or "anonymous")

    async def ws_visit(self, ws: WebSocket) -> None:
        session = self.request.session
        session["visits"] = session.get("visits", 0) + 1
        await ws.accept()
        await ws.send_json({"visits": session["visits"]})
        note = await ws.receive_text()  # changed after accept: saved when the handler ends
        session["note"] = note
        await ws.send_text("noted")

    async def ws_chat(self, ws: WebSocket, room: str, user: str = "anon") -> None:
        await ws.accept()
        await ws.join(room)
        await ws.send_text(f"joined {room}")
        async for message in ws:
            text = message if isinstance(message, str) else message.decode(errors="replace")
            try:
                await self.broadcast(room, f"{user}: {text}")  # type: ignore[attr-defined]
            except BroadcastError:
                await ws.send_text("broadcast failed")

    async def ws_feed(self, ws: WebSocket, room: str) -> None:
        """Joins ``room`` and only listens: for the slow-receiver test."""
        await ws.accept()
        await ws.join(room)
        await ws.send_text("ready")
        async for _ in ws:
            pass

    async def ws_shout(
        self, ws: WebSocket, room: str, count: int, size: int, pause: float = 0.0
    ) -> None:
        await ws.accept()
        filler = "x" * size
        for i in range(count):
            await self.broadcast(room, f"{i}:{filler}")  # type: ignore[attr-defined]
            await asyncio.sleep(pause)
        await ws.send_text("done")
        async for _ in ws:
            pass


def make_app(**ws_config: Any) -> ChatApp:
    """A ChatApp with its middleware; ``ws_config`` goes to ``config={"ws": ...}``."""
    app = ChatApp(config={"ws": ws_config})
    app.ws_middlewares.append(Guard())  # type: ignore[attr-defined]
    return app


def _from_environment() -> ChatApp:
    config: dict[str, Any] = {}
    if os.environ.get("WS_BROADCAST_URL"):
        config["broadcast_url"] = os.environ["WS_BROADCAST_URL"]
    if os.environ.get("WS_CHANNEL_PREFIX"):
        config["channel_prefix"] = os.environ["WS_CHANNEL_PREFIX"]
    if os.environ.get("WS_SEND_QUEUE_SIZE"):
        config["send_queue_size"] = int(os.environ["WS_SEND_QUEUE_SIZE"])
    return make_app(**config)


app = _from_environment()
