"""BREACH-safe defaults, the opt-ins, and request bodies that are never inflated."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from tests.compress.conftest import serve
from tests.support import UvicornProcess

GZIP = {"accept-encoding": "gzip"}
SESSION = {"cookie": "theme=dark; session_id=" + "a" * 43}


def coding(http: httpx.Client, path: str, **headers: str) -> str | None:
    response = http.get(path, headers={**GZIP, **headers})
    assert response.status_code == 200
    value: str | None = response.headers.get("content-encoding")
    return value


@pytest.mark.parametrize(("path", "headers", "compressed"), [
    ("/", {}, True),
    ("/", SESSION, False),                                   # the request carries the session
    ("/", {"cookie": "theme=dark"}, True),                   # a cookie that is no credential
    ("/", {"cookie": "not_session_id=x"}, True),             # a name that only ends the same
    ("/", {"authorization": "Bearer abc"}, False),
    ("/login", {}, False),                                   # the response sets a cookie
    ("/account?echo=guess", {}, False),                      # marked sensitive by the handler
    ("/public_page", SESSION, True),                         # marked compressible
    ("/shared", SESSION, True),                              # Cache-Control: public
])
def test_default_policy(http: httpx.Client, path: str, headers: dict[str, str],
                        compressed: bool) -> None:
    assert (coding(http, path, **headers) == "gzip") is compressed


def test_compress_private_opts_the_whole_app_in(tmp_path: Path) -> None:
    with serve(tmp_path, "compress_private", compress_private=True) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        assert coding(http, "/", **SESSION) == "gzip"
        assert coding(http, "/login") == "gzip"
        # A handler's own mark_sensitive still wins.
        assert coding(http, "/account?echo=x", **SESSION) is None


def test_private_cookies_adds_names(tmp_path: Path) -> None:
    with serve(tmp_path, "compress_cookies", private_cookies=["auth"]) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        assert coding(http, "/", cookie="auth=1") is None
        assert coding(http, "/", cookie="theme=1") == "gzip"


def test_a_gzip_request_body_is_never_inflated(server: UvicornProcess) -> None:
    # 64 MiB of zeros is 64 KiB gzipped: inflating it would be a decompression bomb.
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        response = http.post("/upload", content=bomb, headers={
            "content-encoding": "gzip", "content-type": "application/octet-stream"})
    assert response.json() == {"length": len(bomb), "start": "1f8b"}  # the gzip magic, as sent
