"""Compression over a real uvicorn: codings, q-values, what is skipped, headers, streams."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import brotli  # type: ignore[import-untyped]  # no stubs; the test extra installs it
import httpx
import pytest
import zstandard
from micropie_compress import available_codings, choose

from tests.compress.conftest import serve

TEXT = "All work and no play makes Jack a dull boy. " * 100
DECODERS = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


def raw(http: httpx.Client, path: str, accept: str | None, **headers: str
        ) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded by the client)."""
    request = http.build_request("GET", path, headers=headers)
    del request.headers["accept-encoding"]  # httpx's own default
    if accept is not None:
        request.headers["accept-encoding"] = accept
    response = http.send(request, stream=True)
    try:
        return response, b"".join(response.iter_raw())
    finally:
        response.close()


@pytest.mark.parametrize(("accept", "coding"), [
    ("gzip", "gzip"), ("br", "br"), ("zstd", "zstd"), ("x-gzip", "gzip"),
    ("gzip, deflate, br, zstd", "br"),          # the server's preference on a tie
    ("gzip;q=1, br;q=0.5", "gzip"),
    ("br;q=0, *", "zstd"),
    ("*;q=0.1, gzip;q=0.2", "gzip"),
    ("deflate", None), ("identity", None), ("*;q=0", None), ("gzip;q=0", None),
    ("gzip;q=abc", None), ("gzip;q=2", None),
])
def test_the_coding_follows_accept_encoding(http: httpx.Client, accept: str,
                                            coding: str | None) -> None:
    response, body = raw(http, "/", accept)
    assert response.headers.get("content-encoding") == coding
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(body))
    decoded = DECODERS[coding](body) if coding else body
    assert decoded.decode() == TEXT
    if coding:
        assert len(body) < len(TEXT) / 5


def test_without_accept_encoding_the_body_is_sent_as_it_is(http: httpx.Client) -> None:
    response, body = raw(http, "/", None)
    assert "content-encoding" not in response.headers and body.decode() == TEXT
    assert response.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(("path", "vary"), [
    ("/short", True),        # below minimum_size
    ("/png", False),         # a compressed type
    ("/encoded", False),     # already has a Content-Encoding
    ("/no_transform", False),
    ("/stream", True),       # streamed: not compressed unless compress_streams
])
def test_left_alone(http: httpx.Client, path: str, vary: bool) -> None:
    response, _ = raw(http, path, "gzip")
    assert response.headers.get("content-encoding") in (None, "identity-ish")
    assert ("vary" in response.headers) is vary


def test_svg_is_text_and_is_compressed(http: httpx.Client) -> None:
    response, _ = raw(http, "/svg", "gzip")
    assert response.headers["content-encoding"] == "gzip"


def test_a_compressed_response_has_a_weak_etag_and_no_ranges(http: httpx.Client) -> None:
    response, _ = raw(http, "/tagged", "gzip")
    assert response.headers["etag"] == 'W/"v1"'
    assert "accept-ranges" not in response.headers
    plain, _ = raw(http, "/tagged", None)
    assert plain.headers["etag"] == '"v1"' and plain.headers["accept-ranges"] == "bytes"


def test_head_is_not_compressed(http: httpx.Client) -> None:
    response = http.head("/", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == str(len(TEXT))


def test_streams_are_compressed_when_configured(tmp_path: Path) -> None:
    with serve(tmp_path, "compress_streams", compress_streams=True) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        response, body = raw(http, "/stream", "gzip")
        assert response.headers["content-encoding"] == "gzip"
        assert "content-length" not in response.headers
        assert gzip.decompress(body).decode() == TEXT * 20
        # Each chunk is flushed: its prefix decodes completely on its own.
        with http.stream("GET", "/stream", headers={"accept-encoding": "gzip"}) as stream:
            first = next(stream.iter_raw())
        assert zlib.decompressobj(31).decompress(first).decode().startswith(TEXT)


def test_brotli_and_zstd_are_optional() -> None:
    names = [coding.name for coding in available_codings(("br", "zstd", "gzip"), 6, 4, 3)]
    assert names == ["br", "zstd", "gzip"]  # both packages are test dependencies
    gzip_only = available_codings(("gzip",), 6, 4, 3)
    assert choose("br, zstd", gzip_only) is None


def test_accept_encoding_parsing_is_linear_and_never_fails() -> None:
    codings = available_codings(("gzip",), 6, 4, 3)
    assert choose("x;q=0.5," * 100_000 + "gzip", codings) is not None
    assert choose(";;;,,,==;q=;q", codings) is None
    assert choose("gzip;q=" + "9" * 100_000, codings) is None
