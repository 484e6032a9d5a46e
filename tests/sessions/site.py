"""The session-using app both stores' tests run against."""

from __future__ import annotations

from micropie_core import App


class Site(App):
    async def visits(self) -> str:
        count = self.request.session.get("visits", 0) + 1
        self.request.session["visits"] = count
        return str(count)

    async def peek(self) -> str:
        return str(self.request.session.get("visits", 0))

    async def login(self) -> str:
        self.request.session["user"] = "ann"
        self.request.regenerate_session()
        return "ok"

    async def logout(self) -> str:
        self.request.session.clear()
        return "bye"

    async def cart(self) -> str:
        self.request.session.setdefault("cart", []).append("apple")
        return "added"

    async def plain(self) -> str:
        return "no session here"

    async def cached(self, policy: str) -> tuple[int, str, list[tuple[str, str]]]:
        self.request.session["seen"] = True
        return 200, "cached?", [("Cache-Control", policy)]
