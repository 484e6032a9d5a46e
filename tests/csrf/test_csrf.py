"""micropie-csrf in process, with the memory store and a real Redis: tokens, checks, attacks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from micropie_core import App, ConfigError, Response, hookimpl
from micropie_core.testing import TestClient
from tests.core.asgi_helpers import content_type, multipart, part
from tests.csrf.conftest import SITE, Browser
from tests.csrf.served_app import Forms, make_app

Make = Callable[..., Browser]


@pytest.fixture(params=["memory", "redis"])
def forms(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Forms]:
    """``forms(**csrf)``: the test app with sessions in the memory store, then in Redis."""
    if request.param == "redis":
        monkeypatch.setenv("CSRF_REDIS_URL", request.getfixturevalue("redis_url"))
        monkeypatch.setenv("CSRF_REDIS_PREFIX", f"test:{uuid.uuid4().hex}:")
    else:
        monkeypatch.delenv("CSRF_REDIS_URL", raising=False)
    return make_app


def test_entry_point_is_registered_and_off_without_its_section() -> None:
    (entry_point,) = [ep for ep in entry_points(group="micropie") if ep.name == "csrf"]
    assert entry_point.value == "micropie_csrf.plugin"
    off = Forms()
    assert "csrf" in off.plugins.active_names()
    assert off._prepare_request is None  # no per-request hook at all
    with TestClient(off) as client:
        assert client.post("/submit", data={"message": "hi"}).text == "ok hi"
    on = Forms(config={"csrf": {}})
    assert "csrf.protection" in on.plugins.active_names()


def test_a_form_posted_with_its_token_is_accepted(forms: Callable[..., Forms],
                                                  browser: Make) -> None:
    b = browser(forms())
    token = b.token()
    assert "session_id" in b.cookies  # issuing the token created the session
    assert b.post("/submit", data={"message": "hi", "csrf_token": token}).text == "ok hi"
    # Every rendering is masked differently; each stays valid for the session.
    again = b.token()
    assert again != token
    assert b.post("/submit", data={"message": "2", "csrf_token": again}).text == "ok 2"
    assert b.post("/submit", data={"message": "3", "csrf_token": token}).text == "ok 3"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PURGE"])
def test_unsafe_methods_without_a_token_are_a_clear_403(
    forms: Callable[..., Forms], browser: Make, method: str
) -> None:
    b = browser(forms())
    b.token()
    response = b.post("/submit", method=method, data={"message": "hi"})
    assert response.status_code == 403
    assert response.text == ("403 Forbidden: CSRF check failed: no 'csrf_token' form field "
                             "and no X-CSRF-Token header was sent")


def test_safe_methods_are_not_checked(browser: Make) -> None:
    b = browser(make_app())
    for method in ("GET", "HEAD", "OPTIONS"):
        assert b.client.request(method, "/submit").status_code == 200, method


@pytest.mark.parametrize("forged", ["", "abc", "x" * 86, "é" * 86, "A" * 10_000])
def test_forged_tokens_are_refused(browser: Make, forged: str) -> None:
    b = browser(make_app())
    b.token()
    response = b.post("/submit", data={"csrf_token": forged})
    assert response.status_code == 403
    assert "does not belong to this session" in response.text or "no 'csrf_token'" in response.text


def test_a_token_from_one_session_is_refused_in_another(forms: Callable[..., Forms],
                                                        browser: Make) -> None:
    app = forms()
    attacker, victim = browser(app), browser(app)
    stolen = attacker.token()
    victim.token()
    response = victim.post("/submit", data={"message": "pwned", "csrf_token": stolen})
    assert response.status_code == 403
    assert "does not belong to this session" in response.text
    # The attacker's own session id with the token: that is the attacker's own session.
    assert attacker.post("/submit", data={"csrf_token": stolen}).status_code == 200


def test_json_clients_send_the_header(forms: Callable[..., Forms], browser: Make) -> None:
    b = browser(forms())
    token = b.token()
    ok = b.post("/api", json={"item": "pen"}, headers={"X-CSRF-Token": token})
    assert ok.json() == {"saved": "pen"}
    assert b.post("/api", json={"item": "pen", "csrf_token": token}).status_code == 403


def test_multipart_token_before_or_after_the_file(browser: Make) -> None:
    b = browser(make_app())
    token = b.token()
    first = b.post("/upload", data={"csrf_token": token, "note": "n"},
                   files={"file": ("a.txt", b"x" * 1000)})
    assert first.text == "n:1000"
    body = multipart(part("note", "late"), part("file", b"y" * 5000, filename="b.bin"),
                     part("csrf_token", token))
    late = b.post("/upload", content=body, headers={"content-type": content_type()})
    assert late.text == "late:5000"
    missing = b.post("/upload", content=multipart(part("file", b"z", filename="c.bin")),
                     headers={"content-type": content_type()})
    assert missing.status_code == 403


def test_the_token_rotates_with_the_session_id(forms: Callable[..., Forms],
                                               browser: Make) -> None:
    b = browser(forms())
    before = b.token()
    assert b.post("/login", data={"csrf_token": before}).text == "in"  # regenerate_session()
    refused = b.post("/submit", data={"csrf_token": before})
    assert refused.status_code == 403 and "reload the form" in refused.text
    after = b.token()
    assert b.post("/submit", data={"message": "ok", "csrf_token": after}).text == "ok ok"


def test_rotate_csrf_token_retires_earlier_tokens(browser: Make) -> None:
    b = browser(make_app())
    before = b.token()
    fresh = b.post("/promote", data={"csrf_token": before}).text
    assert b.post("/submit", data={"csrf_token": before}).status_code == 403
    assert b.post("/submit", data={"csrf_token": fresh}).status_code == 200


def test_no_session_cookie_is_a_403(browser: Make) -> None:
    b = browser(make_app())
    response = b.post("/submit", data={"csrf_token": "x"})
    assert response.status_code == 403 and "no session cookie" in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(("headers", "reason"), [
    ({"origin": "https://evil.example"}, "the Origin header names another site"),
    ({"origin": "http://testserver"}, "the Origin header names another site"),  # scheme
    ({"origin": "https://testserver.evil.example"}, "the Origin header names another site"),
    ({"origin": "null"}, "the Origin header is not a web origin"),
    ({"referer": "https://evil.example/testserver/form"}, "the Referer header names another"),
    ({"referer": "https://testserver@evil.example/"}, "the Referer header is not a web origin"),
    ({"referer": "/form"}, "the Referer header is not a web origin"),
    ({}, "needs an Origin or Referer header"),
])
def test_origin_and_referer_checks(browser: Make, headers: dict[str, str], reason: str) -> None:
    b = browser(make_app())
    token = b.token()
    response = b.post("/submit", origin=None, headers=headers, data={"csrf_token": token})
    assert response.status_code == 403 and reason in response.text
    same_site = b.post("/submit", origin=None, headers={"referer": f"{SITE}/form"},
                       data={"message": "r", "csrf_token": token})
    assert same_site.text == "ok r"


def test_plain_http_without_origin_or_referer_relies_on_the_token(browser: Make) -> None:
    b = browser(make_app(), base_url="http://testserver")
    token = b.token()
    assert b.post("/submit", origin=None, data={"csrf_token": token}).status_code == 200
    assert b.post("/submit", origin=None, data={"csrf_token": "no"}).status_code == 403


def test_trusted_origins(browser: Make) -> None:
    b = browser(make_app(trusted_origins=["https://*.example.com"]))
    token = b.token()
    assert b.post("/submit", origin="https://app.example.com",
                  data={"csrf_token": token}).status_code == 200
    assert b.post("/submit", origin="https://evil-example.com",
                  data={"csrf_token": token}).status_code == 403


def test_exemptions_by_class_attribute_and_config(browser: Make) -> None:
    b = browser(make_app(exempt=["api"]))
    assert b.post("/webhook", origin="https://sender.example").text == "hooked"
    assert b.post("/api", json={"item": 1}).json() == {"saved": 1}
    assert b.post("/submit").status_code == 403

    class Root(App):
        _csrf_exempt = {"index"}

        async def index(self, *path: str) -> str:
            return "/".join(path) or "root"

        async def other(self) -> str:
            return "other"

    root = browser(Root(config={"csrf": {}}))
    assert root.post("/").text == "root"
    assert root.post("/a/b").text == "a/b"  # served by index
    assert root.post("/other").status_code == 403


@pytest.mark.parametrize(("exempt", "message"), [
    ({"nope"}, "'nope' .* is not a handler of Forms"),
    ({"_private"}, "is not a handler"),
    ("webhook", "expects a set of handler names, got the string"),
])
def test_a_bad_exemption_fails_at_construction(exempt: Any, message: str) -> None:
    class Bad(Forms):
        _csrf_exempt = exempt

    Bad.__name__ = "Forms"
    with pytest.raises(ConfigError, match=message):
        Bad(config={"csrf": {}})


def test_the_403_goes_through_the_apps_error_pages(browser: Make) -> None:
    class Pages:
        @staticmethod
        @hookimpl
        def error_response(status_code: int, detail: str | None) -> Response | None:
            if status_code == 403:
                return Response(f"<h1>Refused</h1><p>{detail}</p>", 403)
            return None

    app = Forms(plugins=["sessions", "csrf", Pages], config={"csrf": {}})
    b = browser(app)
    b.token()
    response = b.post("/submit")
    assert response.status_code == 403
    assert response.text.startswith("<h1>Refused</h1><p>CSRF check failed: no 'csrf_token'")


def test_csrf_token_outside_a_configured_app_says_how_to_turn_it_on() -> None:
    from micropie_csrf import csrf_token

    with pytest.raises(RuntimeError, match="needs a request"):
        csrf_token()

    class Page(App):
        async def index(self) -> str:
            return csrf_token()

    with TestClient(Page(debug=True)) as client:
        response = client.get("/")
    assert response.status_code == 500
    assert "App(config={'csrf': {}})" in response.text


def test_templates_get_csrf_token_and_csrf_input(browser: Make, tmp_path: Path) -> None:
    (tmp_path / "form.html").write_text(
        '<form method="post">{{ csrf_input() }}<input name="message"></form>|{{ csrf_token }}')
    (tmp_path / "plain.html").write_text("no form here")

    class Site(Forms):
        async def page(self) -> str:
            return await self._render_template("form.html")

        async def plain(self) -> str:
            return await self._render_template("plain.html")

    app = Site(config={"csrf": {}, "templates": {"directory": str(tmp_path)}})
    b = browser(app)
    untouched = b.client.get("/plain")
    assert untouched.text == "no form here" and "set-cookie" not in untouched.headers
    html, _, token = b.client.get("/page").text.partition("|")
    field = f'<input type="hidden" name="csrf_token" value="{token}">'
    assert html.startswith(f'<form method="post">{field}')
    # The hidden field and {{ csrf_token }} are one token within a rendering.
    assert b.post("/submit", data={"message": "t", "csrf_token": token}).text == "ok t"


def test_config_mistakes_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="expected origins"):
        make_app(trusted_origins=["*"])
    with pytest.raises(ConfigError, match="not an origin or pattern"):
        make_app(trusted_origins=["https://*example.com"])
    with pytest.raises(ConfigError, match="must be letters"):
        make_app(field_name='x"><script>')


def test_micropie_plugins_lists_it(capsys: pytest.CaptureFixture[str]) -> None:
    from micropie_core.cli import main

    assert main(["plugins"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "micropie-csrf" in lines["csrf"] and " yes " in lines["csrf"]


def test_exemptions_follow_the_routing_under_a_root_path() -> None:
    import asyncio

    from micropie_core.types import Message

    class Root(App):
        _csrf_exempt = {"index"}

        async def index(self, *path: str) -> str:
            return "root"

        async def other(self) -> str:
            return "other"

    app = Root(config={"csrf": {}})
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    # uvicorn --root-path /prefix: the prefix is in path and raw_path; the URL names `other`.
    scope = {"type": "http", "method": "POST", "path": "/prefix/other",
             "raw_path": b"/prefix/other", "root_path": "/prefix", "query_string": b"",
             "scheme": "http", "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 403
