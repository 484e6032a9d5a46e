from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from micropie_core import App
from micropie_core.testing import TestClient
from micropie_core.types import Message

Client = Callable[..., TestClient]


class Echo(App):
    _max_body_size = {"big": 64}

    async def form(self) -> dict[str, Any]:
        return {"form": self.request.body_params, "json": self.request.json()}

    async def raw(self) -> dict[str, Any]:
        body = await self.request.body()
        request = self.request
        return {"raw": body.decode(), "json": request.json(), "form": request.body_params}

    async def parsed(self) -> str:
        return type(self.request.json()).__name__

    async def big(self) -> str:
        return str(len(await self.request.body()))


def test_urlencoded_and_json_bodies(client: Client) -> None:
    c = client(Echo())
    # A blank value is omitted (SPEC §3, as MicroPie), so a parameter default applies.
    assert c.post("/form", data={"a": ["1", "2"], "b": ""}).json()["form"] == {
        "a": ["1", "2"]}
    assert c.post("/form", json={"k": [1, {"x": None}]}).json()["json"] == {"k": [1, {"x": None}]}
    vendor = c.post("/form", content=b'{"v": 1}',
                    headers={"content-type": "application/vnd.api+json; charset=utf-8"})
    assert vendor.json()["json"] == {"v": 1}


def test_json_in_text_plain_is_not_parsed(client: Client) -> None:
    response = client(Echo()).post("/raw", content=b'{"a": 1}',
                                   headers={"content-type": "text/plain"})
    assert response.json() == {"raw": '{"a": 1}', "json": {}, "form": {}}


def test_bad_json_is_400(client: Client) -> None:
    response = client(Echo()).post("/form", content=b"{nope",
                                   headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.text == "400 Bad Request: Bad JSON"


def test_json_nesting_limit(client: Client) -> None:
    c = client(Echo(max_json_depth=5))
    ok = c.post("/form", content=b"[[[[[1]]]]]", headers={"content-type": "application/json"})
    assert ok.status_code == 200
    deep = c.post("/form", content=b"[[[[[[1]]]]]]", headers={"content-type": "application/json"})
    assert deep.status_code == 400 and "deeper than 5" in deep.text
    strings = c.post("/form", json={"s": "[[[[[[[[[[[["})
    assert strings.status_code == 200


def test_default_nesting_limit_is_200(client: Client) -> None:
    c = client(Echo())
    deep = b"[" * 201 + b"]" * 201
    assert c.post("/parsed", content=deep, headers={"content-type": "application/json"}
                  ).status_code == 400
    ok = b"[" * 200 + b"]" * 200
    assert c.post("/parsed", content=ok, headers={"content-type": "application/json"}
                  ).text == "list"


def test_declared_content_length_over_limit_is_refused_before_reading(client: Client) -> None:
    app = Echo(max_body_size=10)
    received: list[Message] = []

    async def drive() -> tuple[int, bytes]:
        sent: list[Message] = []

        async def receive() -> Message:
            received.append({})
            return {"type": "http.request", "body": b"x" * 11, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = TestClient(app).build_scope(
            "http", "/form", method="POST",
            headers=[("content-length", "11"), ("content-type", "text/plain")])
        await app(scope, receive, send)
        return sent[0]["status"], sent[1]["body"]

    status, body = asyncio.run(drive())
    assert status == 413
    assert b"11 bytes exceeds the limit of 10" in body
    assert received == [], "the body must not be read"


def test_received_bytes_are_counted_for_chunked_bodies(client: Client) -> None:
    response = client(Echo(max_body_size=10)).post(
        "/raw", content=[b"12345", b"67890", b"1"], headers={"content-type": "text/plain"})
    assert response.status_code == 413


def test_per_handler_body_limit(client: Client) -> None:
    c = client(Echo(max_body_size=16))
    assert c.post("/big", content=b"x" * 60).text == "60"
    assert c.post("/big", content=b"x" * 65).status_code == 413
    assert c.post("/raw", content=b"x" * 17).status_code == 413


def test_too_many_form_fields_is_413(client: Client) -> None:
    c = client(Echo(max_form_fields=3))
    assert c.post("/form", content=b"a=1&b=2&c=3",
                  headers={"content-type": "application/x-www-form-urlencoded"}
                  ).status_code == 200
    assert c.post("/form", content=b"a=1&b=2&c=3&d=4",
                  headers={"content-type": "application/x-www-form-urlencoded"}
                  ).status_code == 413


def test_invalid_content_length_is_400(client: Client) -> None:
    response = client(Echo()).post("/raw", content=b"x", headers={"content-length": "abc"})
    assert response.status_code == 400


def _stalled_request(app: App, first_chunk_delay: float) -> tuple[int, bytes]:
    async def drive() -> tuple[int, bytes]:
        sent: list[Message] = []
        calls = 0

        async def receive() -> Message:
            nonlocal calls
            calls += 1
            if calls == 1:
                return {"type": "http.request", "body": b"a", "more_body": True}
            await asyncio.sleep(first_chunk_delay)
            return {"type": "http.request", "body": b"b", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = TestClient(app).build_scope(
            "http", "/raw", method="POST", headers=[("transfer-encoding", "chunked")])
        await asyncio.wait_for(app(scope, receive, send), 5)
        return sent[0]["status"], sent[1]["body"]

    return asyncio.run(drive())


def test_body_timeout_is_the_wait_for_each_chunk() -> None:
    status, body = _stalled_request(Echo(body_timeout=0.05), first_chunk_delay=2)
    assert status == 408
    assert b"Timed out" in body


def test_total_body_timeout_is_408() -> None:
    status, _ = _stalled_request(Echo(body_total_timeout=0.05, body_timeout=None), 2)
    assert status == 408


def test_limits_are_validated_at_construction() -> None:
    for kwargs in ({"max_body_size": 0}, {"body_timeout": -1}, {"max_form_fields": 0},
                   {"max_json_depth": True}, {"max_json_depth": 255}):
        try:
            Echo(**kwargs)
        except ValueError as exc:
            assert next(iter(kwargs)) in str(exc)
        else:
            raise AssertionError(f"{kwargs} accepted")
