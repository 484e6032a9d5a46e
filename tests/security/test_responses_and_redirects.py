"""Responses: header injection, cookie smuggling and open-ended redirects are never sent."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from micropie_core import App, Response
from micropie_core.testing import TestClient
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "ok"

    async def header(self, value: str) -> tuple[int, str, list[tuple[str, str]]]:
        return 200, "body", [("X-Echo", value)]

    async def header_name(self, name: str) -> tuple[int, str, list[tuple[str, str]]]:
        return 200, "body", [(name, "v")]

    async def go(self, to: str) -> tuple[int, str, list[tuple[str, str]]]:
        return self._redirect(to)

    async def cookie(self, value: str) -> Response:
        response = Response("set")
        response.set_cookie("c", value)
        return response


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: owned=1", "a\nX: y", "a\rb", "a\x00b"])
def test_a_header_value_with_cr_lf_or_nul_is_never_sent(
    client: Client, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    c = client(Site())
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = c.get("/header", params={"value": value})
    assert response.status_code == 200
    assert "x-echo" not in response.headers and "owned" not in str(response.headers)
    assert_still_serving(c)


@pytest.mark.parametrize("name", ["X: y", "X\r\nY", "Bad Name", "é"])
def test_a_header_name_that_is_not_a_token_is_never_sent(client: Client, name: str) -> None:
    c = client(Site(debug=True))
    response = c.get("/header_name", params={"name": name})
    assert response.status_code == 500  # debug: loud, never sent
    assert_still_serving(c)


@pytest.mark.parametrize("target", [
    "/x\r\nSet-Cookie: owned=1", "/\x00", "/ü?q=<script>", "http://a.example/\r\n",
])
def test_redirect_targets_are_encoded_and_cannot_split_the_response(
    client: Client, target: str
) -> None:
    c = client(Site())
    response = c.get("/go", params={"to": target})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.isascii() and not any(ch in location for ch in "\r\n\x00 <>")
    assert "set-cookie" not in response.headers
    assert_still_serving(c)


@pytest.mark.parametrize("value", ["x; Domain=evil.example", "x\r\nSet-Cookie: y=1", 'a"b',
                                   "a b", "a\\b", "é"])
def test_a_cookie_value_that_would_not_read_back_is_a_500_not_a_smuggled_attribute(
    client: Client, value: str
) -> None:
    c = client(Site())
    response = c.get("/cookie", params={"value": value})
    assert response.status_code == 500
    assert "set-cookie" not in response.headers
    assert_still_serving(c)


def test_a_cookie_value_reads_back_exactly(client: Client) -> None:
    c = client(Site())
    value = "v1.2_3-x!#$%&'()*+/:<=>?@[]^`{|}~"
    response = c.get("/cookie", params={"value": value})
    assert response.headers["set-cookie"].startswith(f"c={value}; Path=/")
    assert c.cookies["c"] == value
