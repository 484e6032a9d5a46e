"""Files served over a real uvicorn: content, types, validators, 304s, HEAD, index pages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.static.conftest import BIG_SIZE, Tree, raw_get, serve
from tests.support import UvicornProcess


@pytest.fixture(scope="module")
def http(server: UvicornProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def test_files_are_served_with_their_type_length_and_validators(http: httpx.Client) -> None:
    response = http.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.text == "body { color: red }\n"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["cache-control"] == "public, no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("path", "content_type"), [
    ("/static/hello.txt", "text/plain; charset=utf-8"),
    ("/static/data.json", "application/json"),
    ("/static/font.woff2", "font/woff2"),
    ("/static/docs/index.html", "text/html; charset=utf-8"),
    ("/static/no_extension", "application/octet-stream"),
])
def test_content_types(http: httpx.Client, path: str, content_type: str) -> None:
    assert http.get(path).headers["content-type"] == content_type


def test_the_app_still_answers_outside_the_prefix(http: httpx.Client) -> None:
    assert http.get("/").text == "home"
    # Only a whole first segment matches: /staticpage is the app's handler.
    assert http.get("/staticpage").text == "app handler"


def test_head_sends_the_headers_of_get_without_the_body(http: httpx.Client) -> None:
    get = http.get("/static/hello.txt")
    head = http.head("/static/hello.txt")
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert head.headers[name] == get.headers[name]


def test_if_none_match_gets_304_with_the_validators_and_no_body(http: httpx.Client) -> None:
    etag = http.get("/static/hello.txt").headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = http.get("/static/hello.txt", headers={"if-none-match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "content-length" not in response.headers
    assert http.get("/static/hello.txt",
                    headers={"if-none-match": '"stale"'}).status_code == 200


def test_if_modified_since(http: httpx.Client) -> None:
    last_modified = http.get("/static/hello.txt").headers["last-modified"]
    assert http.get("/static/hello.txt",
                    headers={"if-modified-since": last_modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert http.get("/static/hello.txt", headers={"if-modified-since": old}).status_code == 200
    # A malformed date is ignored; If-None-Match wins over If-Modified-Since.
    assert http.get("/static/hello.txt",
                    headers={"if-modified-since": "yesterday"}).status_code == 200
    assert http.get("/static/hello.txt", headers={
        "if-modified-since": last_modified, "if-none-match": '"stale"'}).status_code == 200


def test_a_changed_file_gets_a_new_etag(tree: Tree, http: httpx.Client) -> None:
    path = tree.public / "changing.txt"
    path.write_text("one")
    first = http.get("/static/changing.txt")
    path.write_text("two!")
    second = http.get("/static/changing.txt",
                      headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200 and second.text == "two!"
    assert second.headers["etag"] != first.headers["etag"]


def test_a_file_larger_than_a_chunk_streams_whole(tree: Tree, http: httpx.Client) -> None:
    response = http.get("/static/big.bin")
    assert response.headers["content-length"] == str(BIG_SIZE)
    assert response.content == tree.big


def test_only_get_and_head(http: httpx.Client) -> None:
    response = http.post("/static/hello.txt", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["connection"] == "close"  # the body was not read


def test_directories_are_404_without_index(server: UvicornProcess) -> None:
    for target in ("/static", "/static/", "/static/docs", "/static/docs/",
                   "/static/hello.txt/"):
        assert raw_get(server, target)[0] == 404, target


def test_index_files_and_the_redirect_to_the_slash(tree: Tree) -> None:
    with serve(tree, "static_index", index="index.html") as server, httpx.Client(
            base_url=server.url, timeout=10) as http:
        assert http.get("/static/docs/").text == "<h1>docs</h1>"
        redirect = http.get("/static/docs?x=1")
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "/static/docs/?x=1"
        assert http.get("/static/").status_code == 404  # no index.html at the top
        assert http.get("/static").headers["location"] == "/static/"
        assert http.get("/static/css/").status_code == 404
        assert http.get("/static/docs/index.html/").status_code == 404


def test_cache_control_from_max_age(tree: Tree) -> None:
    with serve(tree, "static_max_age", max_age=3600) as server:
        status, headers, _ = raw_get(server, "/static/hello.txt")
    assert status == 200 and headers["cache-control"] == "public, max-age=3600"


def test_behind_a_root_path(tree: Tree) -> None:
    process = serve(tree, "static_root_path", extra_args=["--root-path", "/app"],
                    index="index.html")
    # uvicorn puts the root path in front of the path the proxy forwarded (ASGI 3).
    with process as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/static/hello.txt").text == "hello, world\n"
        assert http.get("/static/docs").headers["location"] == "/app/static/docs/"
        assert http.get("/").text == "home"
