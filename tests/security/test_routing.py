"""Paths and query strings: segments cannot smuggle NUL, dots or slashes; queries are bounded."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from micropie_core import App, HttpMiddleware, Request, UploadedFile
from micropie_core.testing import TestClient
from micropie_core.types import Scope
from tests.security.serving import assert_still_serving
from tests.support import UvicornProcess

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


SERVED_APP = '''
from micropie_core import App

class Site(App):
    async def index(self): return "ok"
    async def greet(self, name="Guest"): return f"Hello, {name}!"
    async def echo(self, *segments): return list(segments)

app = Site()
'''


def test_served_by_uvicorn_with_a_root_path(tmp_path: Path) -> None:
    # uvicorn puts --root-path in front of both path and raw_path (ASGI 3).
    (tmp_path / "served_site.py").write_text(SERVED_APP)
    with UvicornProcess("served_site:app", tmp_path, extra_args=["--root-path", "/mnt"]
                        ) as server:
        replies = []
        for target in ("/greet/a%2Fb", "/echo/x/%2e%2e/y", "/echo/a%00b", "/echo/caf%C3%A9/"):
            # One connection each: an error response may close its connection.
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                replies.append(read_response(s))
    assert replies[0].startswith(b"HTTP/1.1 200") and replies[0].endswith(b"Hello, a/b!")
    assert replies[1].startswith(b"HTTP/1.1 404")
    assert replies[2].startswith(b"HTTP/1.1 404")
    assert replies[3].endswith('["café",""]'.encode())


def read_response(s: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length, read off a keep-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += receive(s)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += receive(s)
    return head + b"\r\n\r\n" + body


def receive(s: socket.socket) -> bytes:
    data = s.recv(65536)
    if not data:
        raise AssertionError("the server closed the connection mid-response")
    return data
