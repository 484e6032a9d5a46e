"""Fixtures for the static plugin: a directory tree with traps, served by a real uvicorn."""

from __future__ import annotations

import http.client
import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import UvicornProcess

BIG_SIZE = 700 * 1024  # more than one read chunk (256 KiB): streamed in several messages


@dataclass
class Tree:
    root: Path  # holds public/ (served) and secret.txt (outside it)
    public: Path
    big: bytes


def make_tree(root: Path) -> Tree:
    public = root / "public"
    (public / "css").mkdir(parents=True)
    (public / "docs").mkdir()
    (public / "css" / "app.css").write_text("body { color: red }\n")
    (public / "docs" / "index.html").write_text("<h1>docs</h1>")
    (public / "hello.txt").write_text("hello, world\n")
    (public / "data.json").write_text('{"a": 1}')
    (public / "font.woff2").write_bytes(b"wOF2" + bytes(100))
    (public / "no_extension").write_bytes(b"\x00\x01")
    big = os.urandom(BIG_SIZE)
    (public / "big.bin").write_bytes(big)
    (public / ".env").write_text("SECRET=1")
    (public / "nul.txt").write_text("a file whose name is a Windows device")
    (root / "secret.txt").write_text("top secret")
    (public / "escape.txt").symlink_to(root / "secret.txt")
    (public / "inside.txt").symlink_to(public / "hello.txt")
    os.mkfifo(public / "pipe")
    return Tree(root, public, big)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return make_tree(tmp_path_factory.mktemp("static"))


APP = '''
from micropie_core import App

class Site(App):
    async def index(self):
        return "home"

    async def staticpage(self):
        return "app handler"

app = Site(plugins=["static", "sessions"], config={{"static": {config!r}}})
'''


def serve(tree: Tree, name: str, extra_args: list[str] | None = None,
          **config: object) -> UvicornProcess:
    """A uvicorn process serving ``tree.public`` with these ``static`` settings."""
    module = tree.root / f"{name}.py"
    module.write_text(textwrap.dedent(APP.format(
        config={"directories": str(tree.public), **config})))
    return UvicornProcess(f"{name}:app", tree.root, extra_args=extra_args)


@pytest.fixture(scope="module")
def server(tree: Tree) -> Iterator[UvicornProcess]:
    with serve(tree, "static_default") as process:
        yield process


def raw_get(server: UvicornProcess, target: str, method: str = "GET",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send ``target`` exactly as written (no client-side normalisation of ``..``)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()
