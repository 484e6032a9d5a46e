"""Fixtures for the compression plugin: one app with every kind of response, on uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import UvicornProcess

APP = '''
from micropie_core import App, Response
from micropie_compress import mark_compressible, mark_sensitive

TEXT = "All work and no play makes Jack a dull boy. " * 100


class Site(App):
    async def index(self):
        return TEXT

    async def short(self):
        return "tiny"

    async def png(self):
        return 200, b"\\x89PNG" + bytes(5000), [("Content-Type", "image/png")]

    async def svg(self):
        return 200, "<svg>" + "<g/>" * 500 + "</svg>", [("Content-Type", "image/svg+xml")]

    async def encoded(self):
        return 200, b"already" * 200, [("Content-Type", "text/plain"),
                                       ("Content-Encoding", "identity-ish")]

    async def no_transform(self):
        return 200, TEXT, [("Cache-Control", "no-transform")]

    async def tagged(self):
        return 200, TEXT, [("ETag", '"v1"'), ("Accept-Ranges", "bytes")]

    async def stream(self):
        for _ in range(20):
            yield TEXT

    async def login(self):
        response = Response(TEXT)
        response.set_cookie("session_token", "s3cr3t")
        return response

    async def account(self, echo=""):
        mark_sensitive(self.request)
        return f"csrf=SECRET; you searched for {echo}" + TEXT

    async def public_page(self):
        mark_compressible(self.request)
        return TEXT

    async def shared(self):
        return 200, TEXT, [("Cache-Control", "public, max-age=60")]

    async def upload(self):
        body = await self.request.body()
        return {"length": len(body), "start": body[:2].hex()}


app = Site(plugins=["compress", "streaming", "sessions"], config={"compress": CONFIG})
'''


def serve(root: Path, name: str, **config: object) -> UvicornProcess:
    (root / f"{name}.py").write_text(APP.replace("CONFIG", repr(config)))
    return UvicornProcess(f"{name}:app", root)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornProcess]:
    with serve(tmp_path_factory.mktemp("compress"), "compress_default") as process:
        yield process


@pytest.fixture(scope="module")
def http(server: UvicornProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
