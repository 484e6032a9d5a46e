from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, Response, hookimpl
from micropie_core.responses import UnsafeHeaderError, encode_header
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]
SHARED_HEADERS = [("X-Shared", "1")]


class Shapes(App):
    async def text(self) -> str:
        return "héllo"

    async def raw(self) -> bytes:
        return b"\x00\x01"

    async def data(self) -> list[int]:
        return [1, 2, 3]

    async def nothing(self) -> None:
        return None

    async def created(self) -> tuple[int, dict[str, str]]:
        return 201, {"id": "7"}

    async def with_list_headers(self) -> tuple[int, str, list[tuple[str, str]]]:
        return 200, "x", SHARED_HEADERS

    async def with_dict_headers(self) -> tuple[int, str, dict[str, str]]:
        return 202, "plain", {"Content-Type": "text/plain", "X-A": "b"}

    async def full(self) -> Response:
        response = Response("custom", status_code=418, headers={"X-Tea": "pot"})
        response.set_cookie("flavour", "mint")
        return response

    async def go(self) -> Any:
        return self._redirect("/ünïcode path?q=a b\r\nSet-Cookie: x=1")

    async def split(self) -> tuple[int, str, list[tuple[str, str]]]:
        return 200, "x", [("X-Evil", "a\r\nSet-Cookie: owned=1")]

    async def number(self) -> int:
        return 42

    async def odd(self) -> object:
        return object()


def test_str_is_utf8_html_with_length(client: Client) -> None:
    response = client(Shapes()).get("/text")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == "héllo".encode()
    assert response.headers["content-length"] == str(len("héllo".encode()))


def test_bytes_are_sent_as_is(client: Client) -> None:
    response = client(Shapes()).get("/raw")
    assert response.content == b"\x00\x01"
    assert response.headers["content-type"] == "application/octet-stream"


def test_dict_and_list_are_json(client: Client) -> None:
    c = client(Shapes())
    assert c.get("/data").headers["content-type"] == "application/json"
    assert c.get("/data").json() == [1, 2, 3]
    created = c.get("/created")
    assert created.status_code == 201 and created.json() == {"id": "7"}


def test_none_is_204_without_body_or_length(client: Client) -> None:
    response = client(Shapes()).get("/nothing")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


def test_tuple_headers_list_and_dict_and_handler_content_type_wins(client: Client) -> None:
    c = client(Shapes())
    assert c.get("/with_list_headers").headers["x-shared"] == "1"
    c.get("/with_list_headers")
    assert SHARED_HEADERS == [("X-Shared", "1")], "the handler's list must not be mutated"
    response = c.get("/with_dict_headers")
    assert response.status_code == 202
    assert response.headers.getlist("content-type") == ["text/plain"]
    assert response.headers["x-a"] == "b"


def test_response_object_and_cookies(client: Client) -> None:
    response = client(Shapes()).get("/full")
    assert response.status_code == 418
    assert response.headers["x-tea"] == "pot"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("flavour=mint") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_redirect_location_is_safely_encoded(client: Client) -> None:
    response = client(Shapes()).get("/go")
    assert response.status_code == 302
    location = response.headers["location"]
    assert "\r" not in location and "\n" not in location
    assert location.startswith("/%C3%BCn%C3%AFcode%20path?q=a%20b")
    assert "set-cookie" not in response.headers


def test_crlf_header_is_dropped_and_logged_in_production(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Shapes()).get("/split")
    assert response.status_code == 200
    assert "x-evil" not in response.headers
    assert "owned" not in str(response.headers)
    assert "unsafe response header" in caplog.text


def test_crlf_header_fails_loudly_in_debug(client: Client) -> None:
    response = client(Shapes(debug=True)).get("/split")
    assert response.status_code == 500
    assert "CR, LF" in response.text
    assert "owned" not in str(response.headers)


def test_numbers_become_text_and_unknown_values_are_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(Shapes())
    assert c.get("/number").text == "42"
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = c.get("/odd")
    assert response.status_code == 500
    assert "expected str, bytes, dict, list" in caplog.text


def test_generator_without_streaming_plugin_names_the_plugin(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Streams(App):
        async def stream(self) -> Any:
            async def chunks() -> Any:
                yield "a"

            return chunks()

    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Streams(plugins=[])).get("/stream")
    assert response.status_code == 500
    assert "'streaming' plugin" in caplog.text


@pytest.mark.parametrize("with_hook", [False, True])
def test_unserializable_json_is_a_logged_500_on_every_response_path(
    client: Client, caplog: pytest.LogCaptureFixture, with_hook: bool
) -> None:
    class Touch:
        @hookimpl
        def process_response(self, app: App, request: Any, response: Any) -> None:
            response.headers.append(("X-Seen", "1"))

    class Broken(App):
        async def index(self) -> dict[str, Any]:
            return {"when": object()}

        async def fine(self) -> dict[str, Any]:
            return {"ok": True}

    app = Broken(plugins=[Touch()] if with_hook else [])
    c = client(app)
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = c.get("/")
    assert response.status_code == 500
    assert "object" in caplog.text
    fine = c.get("/fine")
    assert fine.json() == {"ok": True}
    assert fine.headers.get("content-length") == str(len(b'{"ok":true}'))
    assert (fine.headers.get("x-seen") == "1") is with_hook


def test_a_header_name_seen_before_still_gets_its_value_checked() -> None:
    assert encode_header("X-Note", "fine") == (b"x-note", b"fine")
    latin = "caf\u00e9\tok"
    assert encode_header("X-Note", latin) == (b"x-note", latin.encode("latin-1"))
    for bad in ("a\r\nSet-Cookie: x=1", "nul\0", "snow\u2603"):
        with pytest.raises(UnsafeHeaderError):
            encode_header("X-Note", bad)
