"""The plugin's configuration, entry point, static_url helper and zero-copy sending."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from micropie_static import static_url

from micropie_core import App, ConfigError
from micropie_core.plugins import available_plugins
from micropie_core.testing import TestClient
from micropie_core.types import Message
from tests.static.conftest import Tree, make_tree


class Site(App):
    async def index(self) -> str:
        return "home"

    async def css(self) -> str:
        return static_url("css/app.css")

    async def page(self) -> str:
        return await self._render_template("page.html")


@pytest.fixture
def files(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


def test_entry_point_and_cli_listing() -> None:
    (entry_point,) = [ep for ep in entry_points(group="micropie") if ep.name == "static"]
    assert entry_point.value == "micropie_static.plugin"
    info = next(info for info in available_plugins() if info.name == "static")
    assert info.distribution == "micropie-static"
    listed = subprocess.run([sys.executable, "-m", "micropie_core.cli", "plugins"],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "static" in listed and "micropie-static" in listed


def test_off_until_its_section_is_given(files: Tree) -> None:
    app = Site(plugins=["static", "sessions"])
    assert app._asgi_stack is None  # no layer at all: nothing on the request path
    with TestClient(app) as client:
        assert client.get("/static/hello.txt").status_code == 404  # the app's own 404
    with pytest.raises(RuntimeError, match="not configured"):
        static_url("hello.txt", app)


def test_the_default_directory_is_static_beside_the_app(files: Tree,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files.root)
    (files.root / "static").mkdir()
    (files.root / "static" / "x.txt").write_text("x")
    with TestClient(Site(plugins=["static"], config={"static": {}})) as client:
        assert client.get("/static/x.txt").text == "x"


@pytest.mark.parametrize(("config", "message"), [
    ({"directories": "/no/such/dir"}, "expected an existing directory"),
    ({"directories": []}, "at least one directory"),
    ({"prefix": "static"}, "leading slash"),
    ({"prefix": "/static/"}, "no trailing slash"),
    ({"prefix": "/a/../b"}, "'..'"),
    ({"index": "../index.html"}, "index.html"),
    ({"package": "no_such_package_here"}, "fails to import"),
    ({"package": "not a name"}, "package:folder"),
    ({"max_ranges": 0}, "1 or more"),
    ({"cache_control": "x\r\ny"}, "printable ASCII"),
])
def test_bad_configuration_fails_at_construction(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Site(plugins=["static"], config={"static": config})


def test_several_directories_and_a_package(files: Tree, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    second = tmp_path / "second"
    second.mkdir()
    (second / "hello.txt").write_text("shadowed")
    (second / "only-here.txt").write_text("second")
    package = tmp_path / "pkgroot" / "mytheme"
    (package / "assets").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "assets" / "theme.css").write_text("theme")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgroot"))
    app = Site(plugins=["static"], config={"static": {
        "directories": [str(files.public), str(second)], "package": "mytheme:assets",
        "prefix": "/assets"}})
    with TestClient(app) as client:
        assert client.get("/assets/hello.txt").text == "hello, world\n"  # first one wins
        assert client.get("/assets/only-here.txt").text == "second"
        assert client.get("/assets/theme.css").text == "theme"
        assert client.get("/static/hello.txt").status_code == 404


def test_static_url_carries_a_content_hash(files: Tree) -> None:
    app = Site(plugins=["static"], config={"static": {"directories": str(files.public)}})
    first = static_url("css/app.css", app)
    assert first.startswith("/static/css/app.css?v=") and len(first.split("v=")[1]) == 12
    assert static_url("/css/app.css", app) == first
    (files.public / "css" / "app.css").write_text("body { color: blue; }\n")
    second = static_url("css/app.css", app)
    assert second != first
    with TestClient(app) as client:
        assert client.get("/css").text == second  # called inside a request: no app needed
        assert client.get(second).text == "body { color: blue; }\n"
    for refused in ("missing.css", ".env", "../secret.txt", "escape.txt"):
        with pytest.raises(FileNotFoundError, match="expected a file under"):
            static_url(refused, app)
    with pytest.raises(RuntimeError, match="needs the app"):
        static_url("css/app.css")


def test_static_url_in_templates(files: Tree, tmp_path: Path) -> None:
    views = tmp_path / "views"
    views.mkdir()
    (views / "page.html").write_text('<link href="{{ static_url(\'css/app.css\') }}">')
    app = Site(plugins=["static", "templates", "sessions"], config={
        "static": {"directories": str(files.public)},
        "templates": {"directory": str(views)}})
    with TestClient(app) as client:
        assert client.get("/page").text == f'<link href="{static_url("css/app.css", app)}">'


def test_a_server_offering_zerocopysend_gets_the_file(files: Tree) -> None:
    app = Site(plugins=["static"], config={"static": {"directories": str(files.public)}})
    sent: list[Message] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.zerocopysend":
            file = message.pop("file")
            message["data"] = os.pread(file.fileno(), message["count"],
                                       message["offset"])
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": "/static/big.bin",
                "raw_path": b"/static/big.bin", "query_string": b"", "headers": headers,
                "extensions": {"http.response.zerocopysend": {}}}

    asyncio.run(app(scope([]), receive, send))
    assert sent[0]["status"] == 200
    assert sent[1]["type"] == "http.response.zerocopysend"
    assert (sent[1]["offset"], sent[1]["count"], sent[1]["more_body"]) == (0, len(files.big),
                                                                           False)
    assert sent[1]["data"] == files.big
    sent.clear()
    asyncio.run(app(scope([(b"range", b"bytes=10-19,100-109")]), receive, send))
    assert sent[0]["status"] == 206
    data = [m["data"] for m in sent if m["type"] == "http.response.zerocopysend"]
    assert data == [files.big[10:20], files.big[100:110]]


def test_a_file_dropped_from_the_page_cache_is_served_whole(files: Tree) -> None:
    # posix_fadvise(DONTNEED) drops the file from the page cache, so the non-blocking
    # read (RWF_NOWAIT) fails with EAGAIN and the chunks come from the worker threads.
    app = Site(plugins=["static"], config={"static": {"directories": str(files.public)}})
    path = files.public / "big.bin"
    with TestClient(app) as client:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        assert client.get("/static/big.bin").content == files.big
        assert client.get("/static/big.bin").content == files.big  # cached this time
