"""The app the CSRF tests use in process and serve with uvicorn (``served_app:app``).

Environment: ``CSRF_REDIS_URL`` and ``CSRF_REDIS_PREFIX`` put sessions in Redis
(default: the memory store); ``CSRF_BEHIND_PROXY=1`` serves it behind a TLS proxy
on 127.0.0.1 (micropie-proxy trusting that address).
"""

from __future__ import annotations

import os
from typing import Any

from micropie_csrf import csrf_token, rotate_csrf_token

from micropie_core import App, UploadedFile


class Forms(App):
    _csrf_exempt = {"webhook"}

    async def form(self) -> str:
        return csrf_token()

    async def submit(self, message: str = "") -> str:
        return f"ok {message}"

    async def api(self) -> dict[str, Any]:
        return {"saved": self.request.json("item")}

    async def upload(self, note: str = "") -> str:
        file: UploadedFile = self.request.files["file"]
        return f"{note}:{len(await file.read())}"

    async def login(self) -> str:
        self.request.session["user"] = "ann"
        self.request.regenerate_session()
        return "in"

    async def promote(self) -> str:
        return rotate_csrf_token()

    async def webhook(self) -> str:
        return "hooked"


def make_app(**csrf: Any) -> Forms:
    config: dict[str, Any] = {"csrf": csrf}
    url = os.environ.get("CSRF_REDIS_URL")
    if url:
        config["sessions"] = {"store": "redis", "url": url,
                              "prefix": os.environ.get("CSRF_REDIS_PREFIX", "csrf:")}
    if os.environ.get("CSRF_BEHIND_PROXY"):
        config["proxy"] = {"trusted_proxies": ["127.0.0.1"]}
    return Forms(config=config)


app = make_app()
