"""JSON bodies: nesting, shape and malformed input are 400s, never a 500 or a stall."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App
from micropie_core.testing import TestClient
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]
JSON = {"content-type": "application/json"}


class Echo(App):
    async def index(self) -> str:
        return "ok"

    async def echo(self) -> Any:
        return self.request.json()

    async def kind(self) -> str:
        return type(self.request.json()).__name__


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_body_deeper_than_the_serializer_can_write_is_400_not_500(client: Client) -> None:
    c = client(Echo())
    response = c.post("/echo", content=nested(255), headers=JSON)
    assert response.status_code == 400
    assert response.text == "400 Bad Request: JSON nested deeper than 200 levels"
    assert_still_serving(c)


def test_the_default_depth_limit_is_200(client: Client) -> None:
    c = client(Echo())
    assert c.post("/kind", content=nested(200), headers=JSON).text == "list"
    assert c.post("/kind", content=nested(201), headers=JSON).status_code == 400
    objects = b'{"a":' * 201 + b"1" + b"}" * 201
    assert c.post("/kind", content=objects, headers=JSON).status_code == 400
    assert_still_serving(c)


@pytest.mark.parametrize("depth", [1024, 1025, 100_000])
def test_nesting_beyond_what_the_parser_accepts_says_too_deep(client: Client, depth: int) -> None:
    c = client(Echo())
    response = c.post("/echo", content=nested(depth), headers=JSON)
    assert response.status_code == 400
    assert "nested deeper than 200" in response.text
    assert_still_serving(c)


def test_a_configured_limit_up_to_254_round_trips(client: Client) -> None:
    c = client(Echo(max_json_depth=254))
    assert c.post("/echo", content=nested(254), headers=JSON).status_code == 200
    assert c.post("/echo", content=nested(255), headers=JSON).status_code == 400


def test_a_limit_the_serializer_cannot_write_back_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match=r"max_json_depth.*at most 254"):
        Echo(max_json_depth=255)


def test_many_shallow_containers_are_parsed(client: Client) -> None:
    c = client(Echo())
    body = b"[" + b"[]," * 100_000 + b"[]]"
    assert c.post("/echo", content=body, headers=JSON).json() == [[]] * 100_001
    assert_still_serving(c)


def test_brackets_inside_strings_are_not_nesting(client: Client) -> None:
    c = client(Echo())
    text = "[{" * 50_000
    assert c.post("/echo", json={"s": text}).json() == {"s": text}
    assert_still_serving(c)


@pytest.mark.parametrize("body", [
    b'"\\[\\[' + b"\\[" * 50_000,   # invalid escapes, never closed
    b"[" * 50_000,                  # never closed
    b'{"a": 1e400}',                # overflows a double
    b'"\\ud800"',                   # lone surrogate
    b"\xff\xfe[]",                  # not UTF-8
    b"[1, 2,]",
])
def test_malformed_json_is_400(client: Client, body: bytes) -> None:
    c = client(Echo())
    response = c.post("/echo", content=body, headers=JSON)
    assert response.status_code == 400
    assert_still_serving(c)
