"""A chat room over WebSockets: ``uvicorn ws_app:app --app-dir examples``.

Open http://127.0.0.1:8000/?user=ann and ?user=bob in two browser tabs. Each tab joins a room
(``ws://host/chat/<room>?user=<name>``); every message goes to everyone in the
room. Set ``REDIS_URL`` and run several workers (``--workers 4``) to see
broadcasts cross processes.
"""

from __future__ import annotations

import os

from micropie_ws import WebSocket, WebSocketAttributes

from micropie_core import App

PAGE = """<!doctype html>
<title>MicroPie chat</title>
<form id="f"><input id="m" autocomplete="off" placeholder="Say something"></form>
<ul id="log"></ul>
<script>
const params = new URLSearchParams(location.search);
const room = encodeURIComponent(params.get("room") || "lobby");
const user = encodeURIComponent(params.get("user") || "guest");
const ws = new WebSocket(`ws://${location.host}/chat/${room}?user=${user}`);
ws.onmessage = (e) => {
  const li = document.createElement("li");
  const m = JSON.parse(e.data);
  li.textContent = m.user ? `${m.user}: ${m.text}` : m.info;
  document.getElementById("log").append(li);
};
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  ws.send(document.getElementById("m").value);
  document.getElementById("m").value = "";
};
</script>"""


class ChatApp(App, WebSocketAttributes):
    async def index(self) -> str:
        return PAGE  # ?room=<room>&user=<name> is read by the page's script

    async def ws_chat(self, ws: WebSocket, room: str, user: str = "guest") -> None:
        await ws.accept()
        await ws.join(room)
        await self.broadcast(room, {"info": f"{user} joined"})
        try:
            async for message in ws:
                text = message if isinstance(message, str) else "(binary)"
                await self.broadcast(
                    room, {"user": user, "text": text[:500]}
                )
        finally:
            await ws.leave(room)
            await self.broadcast(room, {"info": f"{user} left"})


def make_app() -> ChatApp:
    url = os.environ.get("REDIS_URL")
    return ChatApp(config={"ws": {"broadcast_url": url}} if url else None)


app = make_app()
