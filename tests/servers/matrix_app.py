"""The compact app every server of the matrix serves (``matrix_app:app``).

``matrix_app:slow`` is the same app with short body timeouts, for the tests of
what a server does after a 408. ``MATRIX_BODY_TIMEOUT`` (seconds) sets them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

from micropie_ws import WebSocket

from micropie_core import App, UploadedFile, sse


class Matrix(App):
    _max_body_size = {"small": 1024}

    async def index(self) -> str:
        return "Hello, World!"

    async def json(self) -> dict[str, Any]:
        return {"message": "Hello, World!"}

    async def add(self, a: int, b: int = 1) -> dict[str, int]:
        return {"sum": a + b}

    async def form(self, name: str) -> dict[str, Any]:
        return {"name": name, "content_length": self.request.headers.get("content-length")}

    async def small(self) -> str:
        return "never: every test body is over this handler's limit"

    async def data(self) -> dict[str, Any]:
        return {"json": self.request.json(),
                "content_length": self.request.headers.get("content-length")}

    async def upload(self, title: str, doc: UploadedFile) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        async for chunk in doc:
            digest.update(chunk)
            size += len(chunk)
        return {"title": title, "name": doc.filename, "size": size, "sha256": digest.hexdigest(),
                "content_length": self.request.headers.get("content-length")}

    async def stream(self) -> AsyncIterator[str]:
        for number in range(5):
            yield f"chunk {number}\n"

    async def events(self) -> Any:
        async def ticks() -> AsyncIterator[dict[str, Any]]:
            for number in range(3):
                yield {"event": "tick", "data": number, "id": str(number)}

        return sse(ticks())

    async def count(self) -> dict[str, int]:
        visits = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = visits
        return {"visits": visits}

    async def ws_echo(self, ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            if isinstance(message, str):
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)


PLUGINS = ["sessions", "streaming", "ws"]
# Plain http on 127.0.0.1: the Secure session cookie (the default) would not come back.
app = Matrix(plugins=PLUGINS, session_cookie_secure=False)
_timeout = float(os.environ.get("MATRIX_BODY_TIMEOUT", "0.5"))
slow = Matrix(plugins=PLUGINS, body_timeout=_timeout, body_total_timeout=_timeout)
