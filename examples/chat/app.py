"""A chat room: pick a name (kept in the session), talk over WebSockets, or SSE.

Run it from this folder with ``micropie run`` (it finds ``app`` in app.py) and
open http://127.0.0.1:8000 in two browser windows. With ``REDIS_URL`` set,
sessions and broadcasts go through Redis, so several workers serve one room:
``REDIS_URL=redis://127.0.0.1:6379/0 micropie run --workers 2``. See README.md.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from micropie_ws import ConnectionClosed, WebSocket, WebSocketAttributes, broadcast

from micropie_core import App, sse

ROOM = "lobby"
MAX_NAME = 32
MAX_TEXT = 500
Message = dict[str, str]


class Chat(App, WebSocketAttributes):
    """HTTP pages, one WebSocket endpoint (``/chat``) and an SSE fallback (``/plain``)."""

    _methods = {"join": ["POST"], "leave": ["POST"], "say": ["POST"]}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Readers of the SSE fallback in this process (WebSocket members are the
        # ws plugin's: they get broadcasts from every process).
        self._listeners: set[asyncio.Queue[Message]] = set()

    # ------------------------------------------------------------------ pages

    async def index(self) -> str:
        name = self.request.session.get("name")
        if not name:
            return await self._render_template("pick_name.html", error="")
        return await self._render_template("room.html", name=name)

    async def plain(self) -> Any:
        """The fallback page: messages arrive over Server-Sent Events."""
        name = self.request.session.get("name")
        if not name:
            return self._redirect("/")
        return await self._render_template("plain.html", name=name)

    async def join(self, name: str = "") -> Any:
        name = " ".join(name.split())
        if not 0 < len(name) <= MAX_NAME:
            page = await self._render_template(
                "pick_name.html", error=f"A name has 1 to {MAX_NAME} characters.")
            return 400, page
        self.request.regenerate_session()  # a new identity gets a new session id
        self.request.session["name"] = name
        return self._redirect("/")

    async def leave(self) -> Any:
        self.request.session.clear()
        return self._redirect("/")

    # --------------------------------------------------------------- messages

    async def ws_chat(self, ws: WebSocket) -> None:
        name = self.request.session.get("name")
        if not name:
            await ws.close(4001, "Pick a name first")  # before accept: refused (403)
            return
        await ws.accept()
        await ws.join(ROOM)
        await self._publish({"info": f"{name} joined"})
        try:
            async for message in ws:
                if isinstance(message, str) and message.strip():
                    await self._publish({"name": name, "text": message.strip()[:MAX_TEXT]})
        except ConnectionClosed:
            pass
        finally:
            await ws.leave(ROOM)
            await self._publish({"info": f"{name} left"})

    async def say(self, text: str = "") -> Any:
        """The fallback's way to send: ``POST /say`` with a ``text`` field."""
        name = self.request.session.get("name")
        if not name:
            return 403, "Pick a name first"
        if text.strip():
            await self._publish({"name": name, "text": text.strip()[:MAX_TEXT]})
        return None  # 204

    async def events(self) -> Any:
        """Server-Sent Events: every message posted in this process from now on."""
        queue: asyncio.Queue[Message] = asyncio.Queue(100)
        self._listeners.add(queue)

        async def stream() -> AsyncIterator[dict[str, Any]]:
            try:
                while True:
                    yield {"event": "message", "data": await queue.get()}
            finally:
                self._listeners.discard(queue)

        return sse(stream(), keepalive=15)

    async def _publish(self, message: Message) -> None:
        await broadcast(self, ROOM, message)  # WebSocket members, in every process
        for queue in list(self._listeners):
            if queue.full():  # a reader that stopped reading: drop it, not the others
                self._listeners.discard(queue)
            else:
                queue.put_nowait(message)


def make_app() -> Chat:
    """The app, on Redis when ``REDIS_URL`` is set (several workers), else in memory."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return Chat()
    return Chat(config={"sessions": {"store": "redis", "url": url},
                        "ws": {"broadcast_url": url}})


app = make_app()
