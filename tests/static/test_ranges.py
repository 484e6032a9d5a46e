"""Range requests over a real uvicorn: single, multiple, suffix, If-Range, and abuse."""

from __future__ import annotations

from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest
from micropie_static._ranges import Unsatisfiable, parse_ranges

from tests.static.conftest import BIG_SIZE, Tree
from tests.support import UvicornProcess


@pytest.fixture(scope="module")
def http(server: UvicornProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def get_range(http: httpx.Client, value: str, **headers: str) -> httpx.Response:
    # Encoded here: the header may hold non-ASCII digits ("٣"), which httpx refuses as str.
    encoded = {b"range": value.encode()} | {k.encode(): v.encode() for k, v in headers.items()}
    return http.get("/static/big.bin", headers=encoded)


def parts_of(response: httpx.Response) -> list[tuple[str, bytes]]:
    """``(Content-Range, data)`` of each part of a multipart/byteranges body."""
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + response.content)
    return [(str(part["content-range"]), bytes(part.get_payload(decode=True)))
            for part in message.iter_parts()]


@pytest.mark.parametrize(("value", "start", "end"), [
    ("bytes=0-99", 0, 100),
    ("bytes=1000-", 1000, BIG_SIZE),
    ("bytes=-500", BIG_SIZE - 500, BIG_SIZE),
    ("bytes=300000-600000", 300000, 600001),          # spans read chunks
    (f"bytes=10-{10 * BIG_SIZE}", 10, BIG_SIZE),      # an end past the file is clamped
    (f"bytes=-{10 * BIG_SIZE}", 0, BIG_SIZE),
    ("bytes=0-9, 5-20", 0, 21),                      # overlapping ranges merge
])
def test_single_ranges(tree: Tree, http: httpx.Client, value: str, start: int,
                       end: int) -> None:
    response = get_range(http, value)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{BIG_SIZE}"
    assert response.headers["content-length"] == str(end - start)
    assert response.content == tree.big[start:end]


def test_several_ranges_are_a_multipart_body(tree: Tree, http: httpx.Client) -> None:
    response = get_range(http, "bytes=500000-500009, 0-4, -3")
    assert response.status_code == 206
    assert response.headers["content-length"] == str(len(response.content))
    assert parts_of(response) == [  # sorted by offset
        (f"bytes 0-4/{BIG_SIZE}", tree.big[0:5]),
        (f"bytes 500000-500009/{BIG_SIZE}", tree.big[500000:500010]),
        (f"bytes {BIG_SIZE - 3}-{BIG_SIZE - 1}/{BIG_SIZE}", tree.big[-3:]),
    ]


def test_overlapping_ranges_never_repeat_bytes(tree: Tree, http: httpx.Client) -> None:
    # 16 copies of the whole file asked for at once would amplify the response 16x.
    response = get_range(http, "bytes=" + ",".join(["0-"] * 16))
    assert response.status_code == 206
    assert response.content == tree.big
    many = get_range(http, "bytes=0-100,50-200,150-300,1000-1001")
    assert [r for r, _ in parts_of(many)] == [f"bytes 0-300/{BIG_SIZE}",
                                             f"bytes 1000-1001/{BIG_SIZE}"]


def test_unsatisfiable_ranges_get_416(http: httpx.Client) -> None:
    for value in (f"bytes={BIG_SIZE}-", f"bytes={BIG_SIZE + 5}-{BIG_SIZE + 9}", "bytes=-0",
                  f"bytes={10**30}-"):
        response = get_range(http, value)
        assert response.status_code == 416, value
        assert response.headers["content-range"] == f"bytes */{BIG_SIZE}"


@pytest.mark.parametrize("value", [
    "bytes=9-1", "bytes=abc", "bytes=1-2-3", "bytes=--1", "items=0-1", "bytes 0-1",
    "bytes=٣-٤", "bytes=0x10-", "bytes=",
])
def test_malformed_ranges_are_ignored(tree: Tree, http: httpx.Client, value: str) -> None:
    response = get_range(http, value)
    assert response.status_code == 200
    assert response.content == tree.big


def test_a_huge_number_of_ranges_gets_the_plain_file(tree: Tree, http: httpx.Client) -> None:
    response = get_range(http, "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 4000, 2)))
    assert response.status_code == 200
    assert response.content == tree.big


def test_if_range(http: httpx.Client) -> None:
    full = http.get("/static/big.bin")
    etag, last_modified = full.headers["etag"], full.headers["last-modified"]
    assert get_range(http, "bytes=0-1", **{"if-range": etag}).status_code == 206
    assert get_range(http, "bytes=0-1", **{"if-range": last_modified}).status_code == 206
    # A stale or weak validator: the client's partial copy is not ours; send it all.
    for stale in ('"old"', f"W/{etag}", "Mon, 01 Jan 2001 00:00:00 GMT"):
        assert get_range(http, "bytes=0-1", **{"if-range": stale}).status_code == 200


def test_head_of_a_range(http: httpx.Client) -> None:
    response = http.head("/static/big.bin", headers={"range": "bytes=0-9"})
    assert response.status_code == 206 and response.content == b""
    assert response.headers["content-length"] == "10"


def test_parsing_is_bounded_however_long_the_header() -> None:
    # 200,000 ranges: refused by counting commas, before any is parsed.
    assert parse_ranges("bytes=" + "0-0," * 200_000, 10) is None
    # A 100,000-digit number is clamped, never handed to int() (quadratic in CPython).
    with pytest.raises(Unsatisfiable):
        parse_ranges("bytes=" + "9" * 100_000 + "-", 10)
    assert parse_ranges("bytes=0-" + "9" * 100_000, 10) == [(0, 10)]
    assert parse_ranges("bytes=0-1", 0) is None  # an empty file: sent as it is
