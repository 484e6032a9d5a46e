"""Easy mistakes fail at construction (or as a logged 500) with the fix in the message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, ConfigError, HttpMiddleware, PluginError
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]


@pytest.mark.parametrize("name", ["startup", "shutdown", "request", "error_response",
                                  "middlewares", "config", "plugins", "debug", "limits",
                                  "startup_handlers", "shutdown_handlers"])
def test_a_handler_named_like_the_app_api_fails_at_construction(name: str) -> None:
    async def handler(self: App) -> str:
        return "mine"

    cls = type("Site", (App,), {name: handler})
    with pytest.raises(TypeError, match=rf"Site\.{name} is defined as a handler.*Rename"):
        cls()


def test_a_handler_named_like_a_plugin_attribute_fails_at_construction() -> None:
    # The ws plugin sets app.broadcast and app.ws_middlewares on each app.
    class Site(App):
        async def broadcast(self) -> str:
            return "mine"

    with pytest.raises(TypeError, match=r"Site\.broadcast .*attribute"):
        Site()
    assert Site(block_plugins=["ws"]).plugins is not None  # without the plugin, fine


def test_ws_handlers_without_a_websocket_plugin_name_the_package() -> None:
    class Chat(App):
        async def ws_chat(self, ws: Any) -> None: ...

    with pytest.raises(ConfigError, match=r"ws_chat.*`pip install micropie-ws`"):
        Chat(plugins=["sessions", "streaming"])
    with pytest.raises(ConfigError, match="no WebSocket plugin is active"):
        Chat(block_plugins=["ws"])


def test_unknown_block_plugins_names_get_a_did_you_mean() -> None:
    with pytest.raises(PluginError, match=r"block_plugins.*'wss'.*Did you mean 'ws'\?"):
        App(block_plugins=["wss"])
    with pytest.raises(TypeError, match=r"block_plugins=\['ws'\]"):
        App(block_plugins="ws")


def test_methods_that_are_not_http_methods_fail_with_a_did_you_mean() -> None:
    class Api(App):
        _methods = {"submit": ["PSOT"]}

        async def submit(self) -> str:
            return "ok"

    with pytest.raises(ValueError, match=r"'PSOT', which is not an HTTP method\. "
                                         r"Did you mean 'POST'\?.*_extension_methods"):
        Api()


def test_an_extension_method_is_allowed_when_declared(client: Client) -> None:
    class Cache(App):
        _methods = {"page": ["GET", "purge"]}
        _extension_methods = {"PURGE"}

        async def page(self) -> str:
            return "page"

    c = client(Cache())
    assert c.request("PURGE", "/page").text == "page"
    refused = c.post("/page")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD, PURGE"


class Tuples(App):
    async def flask_order(self) -> Any:
        return "created", 201

    async def flask_order_json(self) -> Any:
        return {"a": 1}, 201

    async def out_of_range(self) -> Any:
        return 999, "x"

    async def text_status(self) -> Any:
        return "201", "x"

    async def fine(self) -> Any:
        return 201, "created"


@pytest.mark.parametrize(("path", "message"), [
    ("/flask_order", "Tuples.flask_order returned ('created', 201): the status must come "
                     "first: (status, body[, headers]), not Flask's (body, status). "
                     "Write: return 201, 'created'"),
    ("/flask_order_json", "Write: return 201, {'a': 1}"),
    ("/out_of_range", "Tuples.out_of_range returned (999, 'x'): the status 999 is not an "
                      "HTTP status (100-599)"),
    ("/text_status", "Tuples.text_status returned ('201', 'x'): the status must be an int, "
                     "got str '201'"),
])
def test_a_bad_tuple_is_a_logged_500_naming_the_handler(
    client: Client, caplog: pytest.LogCaptureFixture, path: str, message: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(Tuples()).get(path)
    assert response.status_code == 500
    assert response.text == "500 Internal Server Error"
    assert message in caplog.text


def test_a_good_tuple_still_works(client: Client) -> None:
    response = client(Tuples()).get("/fine")
    assert (response.status_code, response.text) == (201, "created")


def test_a_bad_status_from_a_middleware_is_a_logged_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Early(HttpMiddleware):
        async def before_request(self, request: Any) -> dict[str, Any]:
            return {"status_code": "403", "body": "no"}

    app = Tuples()
    app.middlewares.append(Early())
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(app).get("/fine")
    assert response.status_code == 500
    assert "before_request returned the status must be an int" in caplog.text
