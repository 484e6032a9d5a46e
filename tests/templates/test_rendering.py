"""What a template renders: escaping, globals and filters, inheritance, context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from micropie_templates import environment, render

from micropie_core import App, ConfigError, Request, hookimpl
from micropie_core.testing import TestClient
from tests.templates.conftest import WriteTemplates

Client = Callable[..., TestClient]


class Pages(App):
    async def index(self, name: str = "World") -> str:
        return await self._render_template("hello.html", name=name)

    async def raw(self, html: str) -> str:
        return await self._render_template("raw.html", html=html)

    async def child(self) -> str:
        return await self._render_template("child.html", title="Child", items=["a", "b"])

    async def helper(self) -> Any:
        return await render("hello.html", name="helper")

    async def gone(self) -> Any:
        return 404, await render("hello.html", name="nobody")

    async def text(self) -> str:
        return await self._render_template("note.txt", value="<b>")

    async def login(self, user: str) -> str:
        self.request.session["user"] = user
        return "ok"

    async def who(self) -> str:
        return await self._render_template("who.html")


def make(directory: Path, **config: Any) -> Pages:
    return Pages(plugins=["templates", "sessions"],
                 config={"templates": {"directory": str(directory), **config}})


def test_script_in_a_context_value_is_escaped(client: Client, templates: WriteTemplates) -> None:
    app = make(templates({"hello.html": "<p>Hello, {{ name }}!</p>"}))
    response = client(app).get("/", params={"name": "<script>alert(1)</script>"})
    assert response.status_code == 200
    assert response.text == "<p>Hello, &lt;script&gt;alert(1)&lt;/script&gt;!</p>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_safe_filter_opts_out_of_escaping(client: Client, templates: WriteTemplates) -> None:
    app = make(templates({"raw.html": "{{ html|safe }}|{{ html }}"}))
    response = client(app).get("/raw", params={"html": "<em>hi</em>"})
    assert response.text == "<em>hi</em>|&lt;em&gt;hi&lt;/em&gt;"


def test_non_html_templates_are_not_escaped(client: Client, templates: WriteTemplates) -> None:
    app = make(templates({"note.txt": "{{ value }}"}))
    assert client(app).get("/text").text == "<b>"


def test_globals_and_filters_from_config(client: Client, templates: WriteTemplates) -> None:
    async def greeting() -> str:
        return "Howdy"

    app = make(
        templates({"hello.html": "{{ greeting() }} {{ name|shout }} at {{ site }}"}),
        globals={"site": "Example", "greeting": greeting},
        filters={"shout": lambda s: s.upper() + "!"},
    )
    assert client(app).get("/", params={"name": "ann"}).text == "Howdy ANN! at Example"


def test_inheritance_and_includes(client: Client, templates: WriteTemplates) -> None:
    app = make(templates({
        "base.html": "<title>{% block title %}Site{% endblock %}</title>"
                     "<main>{% block content %}{% endblock %}</main>"
                     "{% include 'footer.html' %}",
        "footer.html": "<footer>{{ title }}</footer>",
        "macros.html": "{% macro li(x) %}<li>{{ x }}</li>{% endmacro %}",
        "child.html": "{% extends 'base.html' %}{% from 'macros.html' import li %}"
                      "{% block title %}{{ title }} - {{ super() }}{% endblock %}"
                      "{% block content %}<ul>{% for i in items %}{{ li(i) }}{% endfor %}</ul>"
                      "{% endblock %}",
    }))
    assert client(app).get("/child").text == (
        "<title>Child - Site</title><main><ul><li>a</li><li>b</li></ul></main>"
        "<footer>Child</footer>"
    )


def test_render_helper_returns_an_html_response(client: Client,
                                                templates: WriteTemplates) -> None:
    app = make(templates({"hello.html": "Hi {{ name }}"}))
    test_client = client(app)
    response = test_client.get("/helper")
    assert (response.status_code, response.text) == (200, "Hi helper")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    gone = test_client.get("/gone")
    assert (gone.status_code, gone.text) == (404, "Hi nobody")


def test_render_outside_a_request_explains() -> None:
    import asyncio

    with pytest.raises(RuntimeError, match="needs a request being handled"):
        asyncio.run(render("hello.html"))


def test_request_and_session_are_in_the_context(client: Client,
                                                templates: WriteTemplates) -> None:
    app = make(templates({"who.html": "{{ request.path }} {{ session.user or 'anonymous' }}"}))
    test_client = client(app)
    assert test_client.get("/who").text == "/who anonymous"
    test_client.get("/login/ann")
    assert test_client.get("/who").text == "/who ann"


def test_a_template_without_session_never_touches_it(client: Client,
                                                    templates: WriteTemplates) -> None:
    # No session store at all: a template that does not use the session still renders,
    # and the response carries no session cookie or Vary: Cookie.
    app = Pages(plugins=["templates"],
                config={"templates": {"directory": str(templates({"hello.html": "Hi"}))}})
    response = client(app).get("/")
    assert response.text == "Hi"
    assert "set-cookie" not in response.headers and "vary" not in response.headers


def test_rendering_outside_a_request(templates: WriteTemplates) -> None:
    import asyncio

    app = make(templates({"hello.html": "{{ request }} {{ session|length }} {{ name }}"}))
    assert asyncio.run(app._render_template("hello.html", name="x")) == "None 0 x"


class Contributions:
    """A plugin adding to every template's context through ``template_context``."""

    @hookimpl
    async def template_context(self, app: App, request: Request | None) -> dict[str, Any]:
        return {"who": "plugin", "path": request.path if request else None}


class LoudContributions:
    @hookimpl(tryfirst=True)
    def template_context(self) -> dict[str, Any]:
        return {"who": "loud plugin", "extra": 1}


def test_plugins_contribute_to_the_context(client: Client, templates: WriteTemplates) -> None:
    directory = templates({"hello.html": "{{ who }} {{ path }} {{ extra }} {{ name }}"})
    config = {"templates": {"directory": str(directory)}}
    app = Pages(plugins=["templates", Contributions()], config=config)
    assert client(app).get("/").text == "plugin /  World"  # extra: undefined
    app = Pages(plugins=["templates", LoudContributions(), Contributions()], config=config)
    assert client(app).get("/", params={"name": "Ann"}).text == "loud plugin / 1 Ann"


class Explicit(App):
    async def index(self) -> str:
        return await self._render_template("hello.html", who="handler", name="x")


def test_handler_values_win_over_plugins(client: Client, templates: WriteTemplates) -> None:
    app = Explicit(plugins=["templates", Contributions()], config={
        "templates": {"directory": str(templates({"hello.html": "{{ who }}"}))}})
    assert client(app).get("/").text == "handler"


class BadContributions:
    @hookimpl
    def template_context(self) -> Any:
        return ["not", "a", "dict"]


def test_a_contribution_that_is_not_a_dict_is_a_clear_error(
    client: Client, templates: WriteTemplates, caplog: pytest.LogCaptureFixture
) -> None:
    app = Pages(plugins=["templates", BadContributions()], config={
        "templates": {"directory": str(templates({"hello.html": "Hi"}))}})
    response = client(app).get("/")
    assert response.status_code == 500
    assert "returned list; expected a dict" in caplog.text


def test_environment_is_reachable_for_customisation(client: Client,
                                                   templates: WriteTemplates) -> None:
    app = make(templates({"hello.html": "{{ name|reverse_it }}"}))
    environment(app).filters["reverse_it"] = lambda s: s[::-1]
    assert client(app).get("/", params={"name": "abc"}).text == "cba"


@pytest.mark.parametrize(("config", "message"), [
    ({"directory": "no-such-dir"}, "expected an existing directory, found no 'no-such-dir'"),
    ({"directory": ["ok", 3]}, "expected a path or a list of paths, found 3"),
    ({"filters": {"shout": "upper"}}, "expected a callable for filter 'shout'"),
    ({"globals": {"not valid": 1}}, "names that are identifiers"),
    ({"packages": ["no_such_package_xyz"]}, "expected package 'no_such_package_xyz'"),
    ({"auto_reload": "yes"}, "expects bool or NoneType"),
    ({"directry": "x"}, "Did you mean 'directory'?"),
])
def test_bad_configuration_fails_at_construction(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="templates") as raised:
        Pages(plugins=["templates"], config={"templates": config})
    assert message in str(raised.value)


def test_sync_mode_can_be_chosen(client: Client, templates: WriteTemplates) -> None:
    app = make(templates({"child.html": "{% for i in items %}{{ i|upper }}{% endfor %} "
                                        "{{ title }}"}), enable_async=False)
    assert environment(app).is_async is False
    assert client(app).get("/child").text == "AB Child"


class ByName(App):
    async def index(self, page: str) -> str:
        return await self._render_template(page, value="<b>")


@pytest.mark.parametrize("page", ["../secret.html", "sub/../../secret.html", "/secret.html",
                                  "..\\secret.html"])
def test_a_template_name_cannot_escape_the_template_directories(
    client: Client, tmp_path: Path, page: str
) -> None:
    (tmp_path / "secret.html").write_text("SECRET")
    (tmp_path / "views" / "sub").mkdir(parents=True)
    app = ByName(plugins=["templates"],
                 config={"templates": {"directory": str(tmp_path / "views")}})
    response = client(app).get("/", params={"page": page})
    assert response.status_code == 500
    assert "SECRET" not in response.text


@pytest.mark.parametrize("page", ["p.html", "p.HTM", "p.xhtml", "p.xml", "p.svg", "p.jinja",
                                  "p.html.jinja2", "p.j2"])
def test_every_html_ish_extension_is_autoescaped(client: Client, templates: WriteTemplates,
                                                 page: str) -> None:
    app = ByName(plugins=["templates"],
                 config={"templates": {"directory": str(templates({page: "{{ value }}"}))}})
    assert client(app).get("/", params={"page": page}).text == "&lt;b&gt;"


def test_the_micropie_guide_snippet_runs_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guide's templates/index.html, found in the working directory as under MicroPie.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(
        "<h1>{{ title }}</h1>\n<p>{{ message }}</p>\n")
    monkeypatch.chdir(tmp_path)

    class Web2(App):
        async def index(self):  # type: ignore[no-untyped-def]
            return await self._render_template("index.html", title="Hello", message="World")

    with TestClient(Web2()) as c:
        response = c.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>Hello</h1>\n<p>World</p>"
