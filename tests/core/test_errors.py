from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, HTTPError, Response, hookimpl
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]


class Failing(App):
    async def boom(self) -> str:
        raise ValueError("kaboom")

    async def teapot(self) -> str:
        raise HTTPError(418, "short and stout")


def test_handler_exception_is_logged_and_gives_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Failing()).get("/boom")
    assert response.status_code == 500
    assert response.text == "500 Internal Server Error"
    assert "kaboom" not in response.text
    assert "GET /boom" in caplog.text and "ValueError: kaboom" in caplog.text


def test_debug_shows_the_traceback(client: Client) -> None:
    response = client(Failing(debug=True)).get("/boom")
    assert response.status_code == 500
    assert "Traceback" in response.text and "ValueError: kaboom" in response.text


def test_http_error_from_handler(client: Client) -> None:
    response = client(Failing()).get("/teapot")
    assert response.status_code == 418
    assert response.text == "418 I'm a Teapot: short and stout"


class JsonErrors:
    @hookimpl
    def error_response(self, status_code: int, detail: str | None) -> Response:
        return Response({"error": status_code, "detail": detail}, status_code)


def test_error_response_hook_renders_custom_pages(client: Client) -> None:
    c = client(Failing(plugins=[JsonErrors()]))
    assert c.get("/missing").json() == {"error": 404, "detail": None}
    assert c.get("/boom").json() == {"error": 500, "detail": None}


class BrokenErrors:
    @hookimpl
    def error_response(self) -> Any:
        raise RuntimeError("error page broke")


def test_failing_error_hook_falls_back_to_default(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Failing(plugins=[BrokenErrors()])).get("/missing")
    assert response.status_code == 404
    assert response.text == "404 Not Found"
    assert "error_response hook failed" in caplog.text
