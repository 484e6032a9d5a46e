"""Bodies under every framing a server may deliver, and closing after early errors.

A body is whatever the ``http.request`` messages carry: with ``Content-Length``,
chunked, or (HTTP/2 and 3) with neither header. An error response sent before the
body was received to its end carries ``Connection: close`` under HTTP/1.x.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from micropie_core import App, UploadedFile
from micropie_core.types import Message, Receive, Scope, Send
from tests.core.asgi_helpers import (
    Result,
    body_messages,
    chunks_of,
    content_type,
    disconnect,
    drive,
    multipart,
    part,
    run,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Echo(App):
    async def form(self, name: str) -> dict[str, Any]:
        return {"name": name, "form": self.request.body_params}

    async def data(self) -> dict[str, Any]:
        return {"json": self.request.json(), "raw": (await self.request.body()).decode()}

    async def upload(self, title: str, doc: UploadedFile) -> dict[str, Any]:
        return {"title": title, "doc": (await doc.read()).decode(), "name": doc.filename}

    async def index(self) -> str:
        return "ok"

    async def fail(self, doc: UploadedFile) -> str:
        raise RuntimeError("handler failed while the upload was still arriving")


def header(result: Result, name: bytes) -> bytes | None:
    return dict(result.headers).get(name)


UPLOAD = multipart(part("title", "T"), part("doc", "x" * 50_000, "d.txt", "text/plain"))


@pytest.mark.parametrize("version", ["2", "3"])
def test_http2_and_3_bodies_without_content_length_are_read(version: str) -> None:
    async def main() -> list[Result]:
        return [
            await drive(Echo(), "/form", body_messages([b"name=Ann", b"&x=1"]),
                        headers=[("content-type", FORM)], http_version=version),
            await drive(Echo(), "/data", body_messages([b'{"a": ', b"[1, 2]}"]),
                        headers=[("content-type", JSON)], http_version=version),
            await drive(Echo(), "/upload", body_messages(chunks_of(UPLOAD, 4096)),
                        headers=[("content-type", content_type())], http_version=version),
        ]

    form, data, upload = run(main())
    assert (form.status, orjson.loads(form.body)) == (
        200, {"name": "Ann", "form": {"name": ["Ann"], "x": ["1"]}})
    assert (data.status, orjson.loads(data.body)) == (
        200, {"json": {"a": [1, 2]}, "raw": '{"a": [1, 2]}'})
    assert (upload.status, orjson.loads(upload.body)) == (
        200, {"title": "T", "doc": "x" * 50_000, "name": "d.txt"})


def test_http2_body_whose_first_message_is_empty_is_still_read() -> None:
    steps = [{"type": "http.request", "body": b"", "more_body": True},
             *body_messages([b"name=Bo"])]
    result = run(drive(Echo(), "/form", steps, headers=[("content-type", FORM)],
                       http_version="2"))
    assert (result.status, orjson.loads(result.body)["name"]) == (200, "Bo")


def test_messages_the_server_makes_the_app_wait_for_are_read_in_order() -> None:
    def later(message: Message) -> Any:
        async def step() -> Message:
            await asyncio.sleep(0.01)
            return message

        return step

    for version in ("1.1", "2"):
        steps = [later(m) for m in body_messages([b"name=", b"Di", b"&y=2"])]
        result = run(drive(Echo(), "/form", steps, headers=[("content-type", FORM)],
                           http_version=version))
        assert (result.status, orjson.loads(result.body)["form"]) == (
            200, {"name": ["Di"], "y": ["2"]})


class NextOnly:
    """An awaitable whose iterator has ``__next__`` only (as Rust servers hand out)."""

    def __init__(self, message: Message, waits: int) -> None:
        self.message, self.waits = message, waits

    def __await__(self) -> NextOnly:
        return self

    def __next__(self) -> Any:
        if self.waits:
            self.waits -= 1
            return None  # a bare yield: the task runs again at the next loop turn
        raise StopIteration(self.message)


@pytest.mark.parametrize("waits", [0, 3])
@pytest.mark.parametrize("version", ["1.1", "2"])
def test_receive_awaitables_without_send_or_throw_are_driven(waits: int, version: str) -> None:
    messages = body_messages([b"name=", b"Ed"])

    async def main() -> Result:
        result = Result()

        def receive() -> Any:
            return NextOnly(messages.pop(0), waits) if messages else asyncio.sleep(30)

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                result.status = message["status"]
            else:
                result.body.extend(message.get("body", b""))

        headers = [(b"content-type", FORM.encode())]
        if version == "1.1":
            headers.append((b"transfer-encoding", b"chunked"))
        scope = {"type": "http", "http_version": version, "method": "POST", "path": "/form",
                 "raw_path": b"/form", "query_string": b"", "headers": headers,
                 "root_path": ""}
        await asyncio.wait_for(Echo()(scope, receive, send), 10)
        return result

    result = run(main())
    assert (result.status, orjson.loads(result.body)["name"]) == (200, "Ed")


def test_http2_request_without_body_reads_one_message_and_is_served() -> None:
    received: list[Message] = []
    body_less = body_messages([b""])

    async def steps() -> Any:
        for message in body_less:
            received.append(message)
            yield message

    result = run(drive(Echo(), "/", steps(), method="GET", http_version="2"))
    assert (result.status, bytes(result.body), received) == (200, b"ok", body_less)
    # A form under HTTP/2 with an empty body binds nothing, like Content-Length: 0.
    empty = run(drive(Echo(), "/upload", body_messages([b""]),
                      headers=[("content-type", content_type())], http_version="2"))
    assert empty.status == 400 and "'title'" in empty.text


def test_http1_request_without_framing_headers_never_waits_for_a_body() -> None:
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()  # a request with no body must not get here
        raise AssertionError

    async def main() -> Result:
        result = Result()

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                result.status = message["status"]
            else:
                result.body.extend(message.get("body", b""))

        scope = {"type": "http", "http_version": "1.1", "method": "POST", "path": "/",
                 "raw_path": b"/", "query_string": b"", "headers": [], "root_path": ""}
        await asyncio.wait_for(Echo()(scope, receive, send), 10)
        return result

    result = run(main())
    assert (result.status, bytes(result.body), calls) == (200, b"ok", 0)


@pytest.mark.parametrize("headers", [
    [("transfer-encoding", "chunked"), ("content-length", "0")],
    [("content-length", "0"), ("transfer-encoding", "chunked")],
    [("transfer-encoding", "chunked"), ("content-length", "3")],
])
def test_transfer_encoding_wins_over_content_length(headers: list[tuple[str, str]]) -> None:
    # RFC 9112 §6.3: with both headers the body is chunked and Content-Length ignored
    # (also for the limit checked before reading).
    result = run(drive(Echo(max_body_size=16), "/form", body_messages([b"name=Cy", b"&z=9"]),
                       headers=[("content-type", FORM), *headers]))
    assert (result.status, orjson.loads(result.body)["name"]) == (200, "Cy")
    over = run(drive(Echo(max_body_size=16), "/form", body_messages([b"name=", b"x" * 20]),
                     headers=[("content-type", FORM), *headers]))
    assert over.status == 413


def test_http2_first_message_that_never_comes_is_408() -> None:
    async def stall() -> Message:
        await asyncio.sleep(30)
        raise AssertionError

    result = run(drive(Echo(body_timeout=0.2), "/form", [stall],
                       headers=[("content-type", FORM)], http_version="2"))
    assert result.status == 408


def test_http2_disconnect_before_any_body_runs_no_handler() -> None:
    result = run(drive(Echo(), "/form", [disconnect], headers=[("content-type", FORM)],
                       http_version="2"))
    assert (result.status, result.messages) == (0, [])


def test_mounted_subapp_gets_the_empty_http2_body_replayed() -> None:
    from micropie_core import HttpMiddleware

    async def child(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": repr(message).encode()})

    class Mount(HttpMiddleware):
        async def before_request(self, request: Any) -> None:
            request._subapp = child
            request._subapp_path = "/"

    app = Echo()
    app.middlewares.append(Mount())
    result = run(drive(app, "/", body_messages([b""]), method="GET", http_version="2"))
    assert result.status == 200 and "'more_body': False" in result.text


# ------------------------------------------------------------ Connection: close


def slow(seconds: float) -> Any:
    async def step() -> Message:
        await asyncio.sleep(seconds)
        raise AssertionError

    return step


@pytest.mark.parametrize(("app", "path", "ctype", "steps", "extra", "status"), [
    # framing headers that tell nothing reliable about where the body ends
    (Echo(), "/form", FORM, [], [("content-length", "12a")], 400),
    # declared over the limit: refused before reading
    (Echo(max_body_size=10), "/form", FORM, [], [("content-length", "100")], 413),
    # counted over the limit while reading
    (Echo(max_body_size=10), "/form", FORM, body_messages([b"x" * 8, b"x" * 8, b"x"]), [], 413),
    # too slow
    (Echo(body_timeout=0.1), "/form", FORM, [slow(30)], [], 408),
    (Echo(body_timeout=0.2), "/form", FORM,
     [{"type": "http.request", "body": b"n", "more_body": True}, slow(30)], [], 408),
    # malformed part while the multipart body is still arriving
    (Echo(), "/upload", content_type(),
     [{"type": "http.request", "body": b"--b0undary-x\r\nbad\r\n\r\n", "more_body": True},
      slow(30)], [], 400),
    # the handler failed while its upload was still arriving
    (Echo(), "/fail", content_type(),
     [{"type": "http.request", "body": part("doc", "a", "a.txt"), "more_body": True},
      slow(30)], [], 500),
])
def test_error_before_the_body_ended_closes_the_connection(
    app: App, path: str, ctype: str, steps: list[Any], extra: list[tuple[str, str]],
    status: int,
) -> None:
    result = run(drive(app, path, steps, headers=[("content-type", ctype), *extra]))
    assert (result.status, header(result, b"connection")) == (status, b"close")


def test_error_after_the_whole_body_keeps_the_connection() -> None:
    bad_json = run(drive(Echo(), "/data", body_messages([b"{nope"]),
                         headers=[("content-type", JSON)]))
    missing = run(drive(Echo(), "/form", body_messages([b"other=1"]),
                        headers=[("content-type", FORM)]))
    not_found = run(drive(Echo(), "/nowhere/x", body_messages([b"a=1"]),
                          headers=[("content-type", FORM)]))
    for result, status in [(bad_json, 400), (missing, 400), (not_found, 404)]:
        assert (result.status, header(result, b"connection")) == (status, None)


def test_http2_error_response_carries_no_connection_header() -> None:
    # RFC 9113 §8.2.2 forbids connection-specific headers; the server resets the stream.
    result = run(drive(Echo(max_body_size=10), "/form", body_messages([b"x" * 20]),
                       headers=[("content-type", FORM)], http_version="2"))
    assert (result.status, header(result, b"connection")) == (413, None)
