"""The quick-start app: ``bash scripts/serve`` serves it on http://127.0.0.1:8000."""

from __future__ import annotations

from typing import Any

from micropie_core import App


class Hello(App):
    async def index(self) -> str:
        return "Hello, World!"

    async def json(self) -> dict[str, str]:
        return {"message": "Hello, World!"}

    async def greet(self, name: str, greeting: str = "Hello") -> str:
        return f"{greeting}, {name}!"

    async def add(self, a: int, b: int = 1) -> dict[str, int]:
        return {"sum": a + b}

    async def visits(self) -> dict[str, Any]:
        count = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = count
        return {"visits": count}


app = Hello()
