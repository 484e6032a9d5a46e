"""The compress plugin's entry point, configuration, and its place in front of static files."""

from __future__ import annotations

import gzip
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from micropie_core import App, ConfigError
from micropie_core.plugins import BUILTIN_PLUGINS
from micropie_core.testing import TestClient

CSS = "body { color: red; margin: 0 auto; }\n" * 100


class Site(App):
    async def index(self) -> str:
        return "home " * 200


def test_entry_point_and_cli_listing() -> None:
    (entry_point,) = [ep for ep in entry_points(group="micropie") if ep.name == "compress"]
    assert entry_point.value == "micropie_compress.plugin"
    assert entry_point.dist is not None
    assert entry_point.dist.metadata["Name"] == "micropie-compress"
    listed = subprocess.run([sys.executable, "-m", "micropie_core.cli", "plugins"],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "compress" in listed and "micropie-compress" in listed


def test_off_until_its_section_is_given() -> None:
    app = Site(plugins=["compress"])
    assert app._asgi_stack is None
    with TestClient(app) as client:
        response = client.get("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers and "vary" not in response.headers


@pytest.mark.parametrize(("config", "message"), [
    ({"encodings": ["deflate"]}, "expected a non-empty list of br, zstd, gzip"),
    ({"encodings": []}, "non-empty"),
    ({"gzip_level": 0}, "from 1 to 9"),
    ({"minimum_size": -1}, "0 or more"),
    ({"skip_types": [""]}, "media types"),
])
def test_bad_configuration_fails_at_construction(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Site(plugins=["compress"], config={"compress": config})


def test_gzip_only_when_asked(tmp_path: Path) -> None:
    app = Site(plugins=["compress"], config={"compress": {"encodings": ["gzip"]}})
    with TestClient(app) as client:
        response = client.get("/", headers={"accept-encoding": "br, zstd, gzip;q=0.1"})
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(response.content) == b"home " * 200


def test_static_files_are_compressed_but_not_their_ranges(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text(CSS)
    (tmp_path / "big.css").write_text(CSS * 200)  # 750 KiB: streamed in chunks
    app = Site(plugins=["compress", "static"], config={
        "compress": {}, "static": {"directories": str(tmp_path)}})
    with TestClient(app) as client:
        session = {"accept-encoding": "gzip", "cookie": "session_id=" + "a" * 43}
        response = client.get("/static/app.css", headers=session)
        # Compressed for a signed-in user too: static files say Cache-Control: public.
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(response.content).decode() == CSS
        assert response.headers["etag"].startswith('W/"')
        partial = client.get("/static/app.css", headers={"accept-encoding": "gzip",
                                                         "range": "bytes=0-9"})
        assert partial.status_code == 206 and partial.content == CSS[:10].encode()
        assert "content-encoding" not in partial.headers
        # Sent in chunks but of known size: gathered and compressed whole.
        big = client.get("/static/big.css", headers={"accept-encoding": "gzip"})
        assert big.headers["content-encoding"] == "gzip"
        assert big.headers["content-length"] == str(len(big.content))
        assert gzip.decompress(big.content).decode() == CSS * 200


def test_a_chunked_body_above_buffer_limit_is_a_stream(tmp_path: Path) -> None:
    (tmp_path / "big.css").write_text(CSS * 200)
    app = Site(plugins=["compress", "static"], config={
        "compress": {"buffer_limit": 100_000}, "static": {"directories": str(tmp_path)}})
    with TestClient(app) as client:
        big = client.get("/static/big.css", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in big.headers and big.text == CSS * 200


STAMP_PLUGIN = """
from micropie_core import hookimpl


class Stamp:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        async def stamped(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-stamp", b"1")]
            await send(message)

        await self.inner(scope, receive, stamped)


@hookimpl
def register_asgi_middleware(app):
    return [Stamp]
"""


def test_static_files_sit_inside_every_other_wrapper(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # A plain wrapper registered *before* the static plugin (as micropie-cors is: entry
    # points load in name order) would be inside it, and never see the files, if the
    # static wrapper were not the innermost (trylast).
    (tmp_path / "stamp_plugin.py").write_text(STAMP_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(BUILTIN_PLUGINS, "stamp", "stamp_plugin")
    (tmp_path / "app.css").write_text(CSS)
    app = Site(plugins=["stamp", "static"], config={"static": {"directories": str(tmp_path)}})
    with TestClient(app) as client:
        assert client.get("/static/app.css").headers["x-stamp"] == "1"
