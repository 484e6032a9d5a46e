"""The app benchmarks/soak.py serves: a form that writes a session, a stream, a fast page.

Every form POST without a cookie creates a session, so under load the in-memory
store fills up to ``SOAK_MAX_SESSIONS`` within seconds and then evicts; RSS must
stay flat from then on. Body timeouts come from ``SOAK_BODY_TIMEOUT`` (per chunk)
and ``SOAK_BODY_TOTAL_TIMEOUT`` (whole body), short so that the slow-client phase
ends in bounded time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from micropie_core import App


class Soak(App):
    async def index(self) -> str:
        return "Hello, World!"

    async def form(self, name: str, n: int = 0) -> dict[str, object]:
        self.request.session["name"] = name
        return {"name": name, "n": n}

    async def stream(self) -> AsyncIterator[str]:
        for number in range(8):
            yield f"line {number}\n"

    async def store_size(self) -> dict[str, int]:
        # A benchmark-only peek at the memory store: how full it is.
        store = self._sessions.store
        return {"sessions": len(store)}  # type: ignore[arg-type]  # MemoryStore has __len__


app = Soak(
    plugins=["sessions", "streaming"],
    config={"sessions": {"max_sessions": int(os.environ.get("SOAK_MAX_SESSIONS", "20000"))}},
    # MicroPie's per-chunk wait and the whole-body deadline.
    body_timeout=float(os.environ.get("SOAK_BODY_TIMEOUT", "2")),
    body_total_timeout=float(os.environ.get("SOAK_BODY_TOTAL_TIMEOUT", "5")),
)
