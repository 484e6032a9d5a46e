"""Request headers and cookies: framing headers are strict, cookies parse in linear time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App
from micropie_core.cookies import MAX_COOKIE_HEADER_SIZE, parse_cookie_header
from micropie_core.testing import TestClient
from tests.security.serving import assert_still_serving

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "ok"

    async def cookies(self) -> dict[str, str]:
        return self.request.cookies

    async def body(self) -> str:
        return (await self.request.body()).decode()

    async def count(self) -> str:
        return str(len(self.request.headers.getlist("x-repeat")))


def test_duplicate_content_length_is_400_even_when_equal(client: Client) -> None:
    c = client(Site())
    for values in (("3", "3"), ("3", "4")):
        response = c.post("/body", content=b"abc",
                          headers=[("content-length", v) for v in values])
        assert response.status_code == 400
        assert "More than one Content-Length" in response.text
    assert_still_serving(c)


@pytest.mark.parametrize("value", ["9" * 4301, "1" * 19, "-1", "3 ", "0x3", "", "\xb3"])
def test_malformed_content_length_is_400(client: Client, value: str) -> None:
    c = client(Site())
    response = c.post("/body", content=b"abc", headers=[("content-length", value)])
    assert response.status_code == 400
    assert "Invalid Content-Length" in response.text
    assert_still_serving(c)


def test_leading_zeros_are_still_a_length(client: Client) -> None:
    c = client(Site())
    assert c.post("/body", content=b"abc", headers=[("content-length", "0" * 40 + "3")]
                  ).text == "abc"


def test_ten_thousand_repeated_headers_are_kept(client: Client) -> None:
    c = client(Site())
    headers = [("x-repeat", str(i)) for i in range(10_000)]
    assert c.get("/count", headers=headers).text == "10000"
    assert_still_serving(c)


def test_backslashes_in_a_quoted_cookie_are_kept_as_sent(client: Client) -> None:
    # http.cookies unescapes these in quadratic time (CVE-2024-7592); we keep them.
    c = client(Site())
    value = "\\" * 20_000
    response = c.get("/cookies", headers={"cookie": f'a="{value}"; b=2'})
    assert response.json() == {"a": value, "b": "2"}
    assert_still_serving(c)


@pytest.mark.parametrize(("header", "expected"), [
    ("=__Host-x=bad", {}),                        # empty name: never read as __Host-x
    ("__Host-x=good; =__Host-x=bad", {"__Host-x": "good"}),
    ("novalue; a=1", {"a": "1"}),                 # no "=": empty name, ignored
    ("a=1=2", {"a": "1=2"}),                      # split at the first "="
    ("  a = 1 ;\tb=\t2\t", {"a": "1", "b": "2"}),  # spaces and tabs trimmed
    ('a="x y"', {"a": "x y"}),                    # one pair of quotes removed
    ('a="\\"x\\""', {"a": '\\"x\\"'}),            # ... and no unescaping
    ('a="', {"a": '"'}),
    ("a=1; a=2", {"a": "1"}),                     # first wins
    (";;; ;", {}),
])
def test_cookie_parsing_follows_the_browsers_rules(
    header: str, expected: dict[str, Any]
) -> None:
    assert parse_cookie_header(header) == expected


def test_cookies_of_several_cookie_headers_are_joined(client: Client) -> None:
    c = client(Site())
    response = c.get("/cookies", headers=[("cookie", "a=1"), ("cookie", "b=2; a=3")])
    assert response.json() == {"a": "1", "b": "2"}


def test_an_oversized_cookie_header_is_400(client: Client) -> None:
    c = client(Site())
    big = "a=" + "x" * MAX_COOKIE_HEADER_SIZE
    response = c.get("/cookies", headers={"cookie": big})
    assert response.status_code == 400
    assert "Cookie header" in response.text
    assert c.get("/cookies", headers={"cookie": big[:MAX_COOKIE_HEADER_SIZE]}).status_code == 200
    assert_still_serving(c)


def test_header_bytes_that_are_not_utf8_do_not_break_anything(client: Client) -> None:
    c = client(Site())
    scope_headers = [("cookie", "a=\xff\xfe"), ("x-odd", "\x00\x7f\xff")]
    assert c.get("/cookies", headers=scope_headers).json() == {"a": "\xff\xfe"}
    assert_still_serving(c)
