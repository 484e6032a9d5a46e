"""micropie-cors in process: configuration, preflights, simple requests, Vary, origin tricks."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest

from micropie_core import App, ConfigError
from micropie_core.testing import TestClient, TestResponse
from micropie_core.testing_websocket import WebSocketDenied

Client = Callable[..., TestClient]


class Api(App):
    _methods = {"items": ["GET"]}

    async def index(self) -> str:
        return "home"

    async def items(self) -> dict[str, list[int]]:
        return {"items": [1, 2]}

    async def save(self) -> tuple[int, str, list[tuple[str, str]]]:
        return 201, "saved", [("X-Request-Id", "42")]


def api(**cors: Any) -> Api:
    return Api(config={"cors": cors})


def preflight(client: TestClient, origin: str, method: str = "PUT", path: str = "/items",
              headers: str | None = None) -> TestResponse:
    sent = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        sent["access-control-request-headers"] = headers
    return client.request("OPTIONS", path, headers=sent)


def cors_headers(response: TestResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_entry_point_is_registered_and_off_without_its_section(client: Client) -> None:
    (entry_point,) = [ep for ep in entry_points(group="micropie") if ep.name == "cors"]
    assert entry_point.value == "micropie_cors.plugin"
    app = Api()
    assert "cors" in app.plugins.active_names()
    assert app._asgi_stack is None  # no layer: nothing on the request path
    c = client(app)
    response = preflight(c, "https://a.example.com")
    assert response.status_code == 405 and not cors_headers(response)
    assert "vary" not in c.get("/").headers


def test_preflight_is_answered_before_method_restrictions(client: Client) -> None:
    c = client(api(allow_origins=["https://app.example.com"], allow_methods=["GET", "PUT"],
                   allow_headers=["X-Token"], max_age=120))
    response = preflight(c, "https://app.example.com", headers="X-Token, Content-Type")
    assert response.status_code == 204 and response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": "x-token, content-type",
        "access-control-max-age": "120",
    }
    assert "Origin" in response.headers["vary"]
    # Not a preflight (no Access-Control-Request-Method): the handler's _methods apply.
    plain = c.request("OPTIONS", "/items", headers={"origin": "https://app.example.com"})
    assert plain.status_code == 405 and plain.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(("origin", "method", "headers", "reason"), [
    ("https://evil.example.net", "PUT", None, "Origin is not in cors.allow_origins"),
    ("null", "PUT", None, "Origin is not in cors.allow_origins"),
    ("https://app.example.com", "DELETE", None, "'DELETE' is not in cors.allow_methods"),
    ("https://app.example.com", "PUT", "X-Secret", "'x-secret' is not in cors.allow_headers"),
    ("https://app.example.com", "PU T", None, "is not an HTTP method"),
    ("https://app.example.com", "PUT", "a b", "not a list of header names"),
])
def test_a_refused_preflight_is_a_clear_403_without_cors_headers(
    client: Client, origin: str, method: str, headers: str | None, reason: str
) -> None:
    c = client(api(allow_origins=["https://app.example.com"], allow_methods=["PUT"]))
    response = preflight(c, origin, method, headers=headers)
    assert response.status_code == 403
    assert not cors_headers(response)
    assert response.text.startswith("403 Forbidden: CORS preflight refused")
    assert reason in response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("origin", [
    "https://evil-example.com", "https://example.com.evil.net", "http://a.example.com",
    "https://a.example.com:8443", "https://example.com", "null", "https://a.example.com/",
    "https://a.example.com@evil.net", "https://a.example.com.",
])
def test_subdomain_pattern_cannot_be_tricked(client: Client, origin: str) -> None:
    c = client(api(allow_origins=["https://*.example.com"]))
    assert preflight(c, origin, "GET").status_code == 403
    response = c.get("/", headers={"origin": origin})
    assert response.text == "home" and not cors_headers(response)
    assert response.headers["vary"] == "Origin"


def test_subdomain_pattern_allows_one_or_more_labels(client: Client) -> None:
    c = client(api(allow_origins=["https://*.example.com"]))
    for origin in ("https://a.example.com", "https://a.b.example.com", "HTTPS://A.Example.com"):
        assert preflight(c, origin, "POST").status_code == 204
        response = c.get("/", headers={"origin": origin})
        assert response.headers["access-control-allow-origin"] == origin


def test_simple_request_gets_the_origin_reflected_with_credentials_and_exposed_headers(
    client: Client
) -> None:
    c = client(api(allow_origins=["https://app.example.com"], allow_credentials=True,
                   expose_headers=["X-Request-Id"]))
    response = c.post("/save", headers={"origin": "https://app.example.com"})
    assert response.status_code == 201 and response.text == "saved"
    assert cors_headers(response) == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Request-Id",
    }
    assert response.headers.getlist("vary") == ["Origin"]
    assert preflight(c, "https://app.example.com", "POST").headers[
        "access-control-allow-credentials"] == "true"


def test_vary_origin_on_every_response_even_without_an_origin(client: Client) -> None:
    c = client(api(allow_origins=["https://app.example.com"]))
    for response in (c.get("/"), c.get("/nope"), c.post("/items")):
        assert response.headers.getlist("vary") == ["Origin"], response.status_code


def test_any_origin_without_credentials_sends_a_star(client: Client) -> None:
    c = client(api(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]))
    response = c.get("/", headers={"origin": "https://anyone.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    answer = preflight(c, "https://anyone.example", "PURGE", headers="X-Anything")
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-methods"] == "PURGE"
    assert answer.headers["access-control-allow-headers"] == "x-anything"


@pytest.mark.parametrize(("cors", "message"), [
    ({"allow_origins": ["*"], "allow_credentials": True}, "every site could then read"),
    ({"allow_origins": ["null"]}, "'null' is the origin of sandboxed frames"),
    ({"allow_origins": ["https://*example.com"]}, "not an origin or pattern"),
    ({"allow_origins": ["https://ex(a|b)mple.com"]}, "not an origin or pattern"),
    ({"allow_origins": "https://example.com"}, "expects list or tuple"),
    ({"allow_methods": ["GET POST"]}, "expected a list of HTTP methods"),
    ({"max_age": -1}, "must be 0 or more"),
    ({"allow_origin": ["https://example.com"]}, "Did you mean 'allow_origins'"),
])
def test_configuration_mistakes_fail_at_construction(cors: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("|", r"\|")):
        api(**cors)


def test_websocket_scopes_are_left_to_the_ws_plugin(client: Client) -> None:
    class Chat(App):
        async def ws_echo(self, ws: Any) -> None:
            await ws.accept()
            await ws.send_text(await ws.receive_text())

    c = client(Chat(config={"cors": {"allow_origins": ["https://app.example.com"]}}))
    # CORS allows this origin for HTTP, but the ws plugin's own policy (same host
    # only, by default) decides WebSocket connections.
    with pytest.raises(WebSocketDenied) as denied, c.websocket_connect(
        "/echo", headers={"origin": "https://app.example.com"}
    ):
        pass
    assert denied.value.status_code == 403
    with c.websocket_connect("/echo", headers={"origin": "http://testserver"}) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"


def test_micropie_plugins_lists_it(capsys: pytest.CaptureFixture[str]) -> None:
    from micropie_core.cli import main

    assert main(["plugins"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "micropie-cors" in lines["cors"] and " yes " in lines["cors"]


def test_layers_with_the_other_plugins_proxy_outermost_static_innermost(
    client: Client, tmp_path: Any
) -> None:
    (tmp_path / "font.woff2").write_bytes(b"woff2" * 100)
    app = Api(config={
        "proxy": {"allowed_hosts": ["api.example.com"]},
        "cors": {"allow_origins": ["https://app.example.com"]},
        "static": {"directories": str(tmp_path)},
    })
    c = client(app)
    font = c.get("/static/font.woff2", headers={"host": "api.example.com",
                                                "origin": "https://app.example.com"})
    assert font.status_code == 200 and font.content == b"woff2" * 100
    assert font.headers["access-control-allow-origin"] == "https://app.example.com"
    answered = preflight(c, "https://app.example.com", "GET", path="/static/font.woff2")
    assert answered.status_code == 400  # the Host check comes first: testserver is not allowed
    answered = c.request("OPTIONS", "/static/font.woff2", headers={
        "host": "api.example.com", "origin": "https://app.example.com",
        "access-control-request-method": "GET"})
    assert answered.status_code == 204
