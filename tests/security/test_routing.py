"""Paths and query strings: segments cannot smuggle NUL, dots or slashes; queries are bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, HttpMiddleware, Request, UploadedFile
from micropie_core.testing import TestClient
from micropie_core.types import Scope
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Site(App):
    async def index(self, *segments: str) -> Any:
        return list(segments) if segments else "ok"

    async def greet(self, name: str = "Guest") -> str:
        return f"Hello, {name}!"

    async def echo(self, *segments: str) -> list[str]:
        return list(segments)

    async def upload(self, file: UploadedFile) -> str:
        return file.filename

    async def uploads(self, files: list[UploadedFile]) -> str:
        return str(len(files))

    async def search(self, q: str = "default", page: int = 1) -> dict[str, Any]:
        return {"q": q, "page": page}


def test_an_encoded_slash_stays_inside_its_segment(client: Client) -> None:
    c = client(Site())
    assert c.get("/greet/a%2Fb").text == "Hello, a/b!"
    assert c.get("/echo/a%2fb/c").json() == ["a/b", "c"]
    assert c.get("/echo/caf%C3%A9/%20x").json() == ["café", " x"]
    assert_still_serving(c)


@pytest.mark.parametrize("path", [
    "/echo/a%00b", "/echo/%00", "/index/%2e%2e/_secret", "/index/..%2f", "/echo/..",
    "/echo/.", "/echo/%2E", "/echo/x/%2e%2E/y", "/greet/..", "/%2e%2e",
])
def test_nul_and_dot_segments_are_404(client: Client, path: str) -> None:
    c = client(Site())
    expected = 200 if path == "/index/..%2f" else 404  # "../" is not "..": one segment
    response = c.get(path)
    assert response.status_code == expected, path
    if expected == 200:
        assert response.json() == ["../"]
    assert_still_serving(c)


def test_a_path_that_is_not_utf8_once_decoded_is_400(client: Client) -> None:
    c = client(Site())
    response = c.get("/echo/%ff%fe")
    assert response.status_code == 400
    assert "UTF-8" in response.text
    assert_still_serving(c)


def test_a_trailing_slash_passes_an_empty_last_segment(client: Client) -> None:
    c = client(Site())
    assert c.get("/greet/").text == "Hello, !"
    assert c.get("/echo/a/").json() == ["a", ""]
    assert c.get("/echo//a").json() == ["", "a"]
    assert c.get("//").text == "ok"


def test_blank_query_values_are_omitted_so_defaults_apply(client: Client) -> None:
    c = client(Site())
    assert c.get("/greet?name=").text == "Hello, Guest!"
    assert c.get("/greet?name").text == "Hello, Guest!"
    assert c.get("/search?q=&page=").json() == {"q": "default", "page": 1}
    assert c.get("/search?q=x&q=").json() == {"q": "x", "page": 1}


def test_a_query_with_more_fields_than_the_form_limit_is_413(client: Client) -> None:
    c = client(Site(max_form_fields=1000))
    query = "&".join(f"f{i}=1" for i in range(100_000))
    response = c.get(f"/search?{query}")
    assert response.status_code == 413
    assert "query string fields" in response.text
    assert c.get("/search?" + "&".join(f"f{i}=1" for i in range(1000))).status_code == 200
    assert_still_serving(c)


@pytest.mark.parametrize("path", ["/upload/x", "/upload?file=x", "/uploads/x", "/uploads?files=x"])
def test_an_upload_parameter_filled_from_text_is_400_naming_it(client: Client, path: str) -> None:
    c = client(Site())
    response = c.get(path)
    assert response.status_code == 400
    assert "parameter 'file" in response.text and "UploadedFile" in response.text
    assert_still_serving(c)


@pytest.mark.parametrize(("path", "raw_path"), [
    ("/greet/a/b", b"/greet/a%2Fb"),            # path and raw_path without the prefix
    ("/greet/a/b", b"/mnt/greet/a%2Fb"),        # raw_path with it (older servers)
    ("/mnt/greet/a/b", b"/mnt/greet/a%2Fb"),    # both with it (ASGI 3, uvicorn --root-path)
    ("/mnt/greet/a/b", None),                   # no raw_path: split the decoded path
])
def test_a_root_path_prefix_is_not_a_segment(path: str, raw_path: bytes | None) -> None:
    scope = TestClient(Site()).build_scope("http", "/", method="GET")
    scope.update(path=path, raw_path=raw_path, root_path="/mnt")
    if raw_path is None:
        del scope["raw_path"]
    result = asyncio.run(call(Site(), scope))
    assert result == ("Hello, a/b!" if raw_path else "Hello, a!")


async def call(app: App, scope: Scope) -> str:
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return body.decode()


class Mount(HttpMiddleware):
    def __init__(self, child: App) -> None:
        self.child = child

    async def before_request(self, request: Request) -> None:
        if request.path.startswith("/api/"):
            request._subapp = self.child
            request._subapp_path = request.path[len("/api"):]  # type: ignore[attr-defined]
            request._subapp_mount_path = "/api"  # type: ignore[attr-defined]

    async def after_request(self, *args: Any) -> None:
        return None


def test_a_mounted_sub_app_keeps_encoded_slashes_and_refuses_dots(client: Client) -> None:
    parent = Site()
    parent.middlewares.append(Mount(Site()))
    c = client(parent)
    assert c.get("/api/greet/a%2Fb").text == "Hello, a/b!"
    assert c.get("/api/echo/x%2541").json() == ["x%41"]  # decoded once, never twice
    assert c.get("/api/echo/%2e%2e").status_code == 404
    assert_still_serving(c)
