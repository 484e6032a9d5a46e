"""One compact app under every mainstream ASGI server, driven over real sockets.

Each server configuration of ``servers.SERVERS`` is started once for this module
and gets the same requests: text, JSON, path and query binding, forms, JSON and a
5 MiB multipart upload (with a Content-Length, and streamed without one: chunked
under HTTP/1.1, bare DATA frames under HTTP/2), a streamed response, Server-Sent
Events, a session counter and a WebSocket echo.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import httpx
import orjson
import pytest
from websockets.exceptions import InvalidHandshake, InvalidMessage
from websockets.sync.client import connect

from tests.core.asgi_helpers import content_type, multipart, part
from tests.servers.conftest import (
    closed_by_server,
    http_client,
    raw_connection,
    read_response,
)
from tests.servers.servers import SERVERS, Certificates, Server
from tests.support import ServerProcess

FORM = "application/x-www-form-urlencoded"
FILE = os.urandom(5 * 1024 * 1024)
UPLOAD = multipart(part("title", "report"), part("doc", FILE, "big.bin", "application/pdf"))


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body httpx must send without Content-Length (its length is unknown)."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.fixture(scope="module", params=SERVERS, ids=[server.name for server in SERVERS])
def served(request: pytest.FixtureRequest,
           certs: Certificates) -> Iterator[tuple[Server, ServerProcess]]:
    server: Server = request.param
    process = server.process("matrix_app:app", certs).start()
    try:
        yield server, process
    finally:
        process.stop()


@pytest.fixture
def http(served: tuple[Server, ServerProcess], certs: Certificates) -> Iterator[httpx.Client]:
    with http_client(*served, certs) as client:
        yield client


def test_text_json_and_binding(served: tuple[Server, ServerProcess], http: httpx.Client) -> None:
    server, _ = served
    text = http.get("/")
    assert (text.status_code, text.text, text.headers["content-type"]) == (
        200, "Hello, World!", "text/html; charset=utf-8")
    assert text.http_version == ("HTTP/2" if server.http2 else "HTTP/1.1")
    assert http.get("/json").json() == {"message": "Hello, World!"}
    assert http.get("/add/2", params={"b": "3"}).json() == {"sum": 5}
    bad = http.get("/add/x")
    assert bad.status_code == 400 and "'a'" in bad.text


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "no-length"])
def test_form_and_json_bodies(http: httpx.Client, streamed: bool) -> None:
    form_body, json_body = b"name=Ann&x=1", orjson.dumps({"k": [1, {"v": None}]})
    form = http.post("/form", headers={"content-type": FORM},
                     content=pieces(form_body, 4) if streamed else form_body)
    data = http.post("/data", headers={"content-type": "application/json"},
                     content=pieces(json_body, 5) if streamed else json_body)
    assert form.json() == {"name": "Ann",
                           "content_length": None if streamed else str(len(form_body))}
    assert data.json() == {"json": {"k": [1, {"v": None}]},
                           "content_length": None if streamed else str(len(json_body))}


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "no-length"])
def test_five_mib_multipart_upload(http: httpx.Client, streamed: bool) -> None:
    response = http.post("/upload", headers={"content-type": content_type()},
                         content=pieces(UPLOAD) if streamed else UPLOAD)
    assert response.json() == {
        "title": "report", "name": "big.bin", "size": len(FILE),
        "sha256": hashlib.sha256(FILE).hexdigest(),
        "content_length": None if streamed else str(len(UPLOAD)),
    }


def test_streamed_response_and_server_sent_events(http: httpx.Client) -> None:
    with http.stream("GET", "/stream") as response:
        chunks = list(response.iter_text())
        assert "content-length" not in response.headers
    assert "".join(chunks) == "".join(f"chunk {n}\n" for n in range(5))
    events = http.get("/events")
    assert events.headers["content-type"].startswith("text/event-stream")
    assert events.headers["cache-control"] == "no-cache"
    blocks = [block for block in events.text.split("\n\n") if block]
    assert [sorted(block.split("\n")) for block in blocks] == [
        sorted(["event: tick", f"data: {n}", f"id: {n}"]) for n in range(3)]


def test_session_counter_over_two_requests(http: httpx.Client) -> None:
    first = http.get("/count")
    assert "session_id" in first.cookies
    assert first.json() == {"visits": 1}
    assert http.get("/count").json() == {"visits": 2}


def test_websocket_echo(served: tuple[Server, ServerProcess], certs: Certificates) -> None:
    server, process = served
    url = process.url.replace("http", "ws", 1) + "/echo"
    context = certs.client_context() if server.tls else None
    if not server.websocket:
        # Documented in docs/security.md: this configuration cannot carry WebSockets.
        with pytest.raises((InvalidHandshake, InvalidMessage, ConnectionError, EOFError)):
            connect(url, ssl=context, open_timeout=10).close()
        return
    with connect(url, ssl=context, open_timeout=10, close_timeout=5) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"


def test_body_over_the_limit_is_413_and_ends_the_connection_where_http1_allows(
    served: tuple[Server, ServerProcess], http: httpx.Client, certs: Certificates,
) -> None:
    server, process = served
    if server.http2:
        # HTTP/2 has no Connection header (RFC 9113 §8.2.2); the stream ends with
        # the 413. (Hypercorn then drops the whole connection when the rest of the
        # body arrives on the finished stream; granian keeps it.) The server goes
        # on serving either way.
        refused = http.post("/small", content=b"x" * 4096)
        assert refused.status_code == 413 and "connection" not in refused.headers
        with http_client(server, process, certs) as fresh:
            assert fresh.get("/").text == "Hello, World!"
        return
    with raw_connection(process, certs) as sock:
        head = (f"POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
                f"Content-Length: {17 << 20}\r\n\r\n").encode()
        sock.sendall(head)
        if server.buffers_body:
            # daphne calls the app only once it has read the whole body ...
            sock.sendall(b"x" * (17 << 20))
        status, headers, _ = read_response(sock)
        assert (status, headers.get("connection")) == (413, "close")
        if not server.buffers_body:
            assert closed_by_server(sock)
            return
        # ... and, the body being read, keeps the connection despite the app's
        # Connection: close (docs/security.md): the next request is served.
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock)[0] == 200
