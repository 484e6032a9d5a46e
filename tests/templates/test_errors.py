"""Missing templates, syntax errors, and rendering without the plugin: always a 500."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from micropie_core import App
from micropie_core.testing import TestClient
from tests.templates.conftest import WriteTemplates

Client = Callable[..., TestClient]

BROKEN = "<h1>fine</h1>\n<p>fine</p>\n{% if x %}{{ x }}{% endfi %}\n"


class Site(App):
    async def index(self) -> str:
        return await self._render_template("missing.html", x=1)

    async def child(self) -> str:
        return await self._render_template("child.html", x=1)

    async def broken(self) -> str:
        return await self._render_template("broken.html", x=1)


def make(directory: Path, debug: bool = False) -> Site:
    return Site(plugins=["templates"], debug=debug,
                config={"templates": {"directory": str(directory)}})


def test_missing_template_is_a_500_naming_it_and_the_directories(
    client: Client, templates: WriteTemplates, caplog: pytest.LogCaptureFixture
) -> None:
    directory = templates({})
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(make(directory)).get("/")
    assert response.status_code == 500
    assert response.text == "500 Internal Server Error"
    assert f"Template 'missing.html' not found. Searched: {directory}." in caplog.text


def test_missing_parent_template_names_both(
    client: Client, templates: WriteTemplates, caplog: pytest.LogCaptureFixture
) -> None:
    directory = templates({"child.html": "{% extends 'layout.html' %}"})
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(make(directory)).get("/child")
    assert response.status_code == 500
    assert ("Template 'layout.html' not found (needed while rendering 'child.html'). "
            f"Searched: {directory}.") in caplog.text


def test_syntax_error_is_a_500_with_file_and_line_in_the_log_only(
    client: Client, templates: WriteTemplates, caplog: pytest.LogCaptureFixture
) -> None:
    directory = templates({"broken.html": BROKEN})
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(make(directory)).get("/broken")
    assert response.status_code == 500
    assert response.text == "500 Internal Server Error"
    assert f'File "{directory / "broken.html"}", line 3' in caplog.text
    assert "Encountered unknown tag 'endfi'" in caplog.text


def test_syntax_error_in_a_parent_names_the_parent(
    client: Client, templates: WriteTemplates, caplog: pytest.LogCaptureFixture
) -> None:
    directory = templates({"child.html": "{% extends 'broken.html' %}", "broken.html": BROKEN})
    with caplog.at_level(logging.ERROR, logger="micropie"):
        assert client(make(directory)).get("/child").status_code == 500
    assert f'File "{directory / "broken.html"}", line 3' in caplog.text


def test_syntax_error_page_shows_file_and_line_in_debug(
    client: Client, templates: WriteTemplates
) -> None:
    directory = templates({"broken.html": BROKEN})
    response = client(make(directory, debug=True)).get("/broken")
    assert response.status_code == 500
    assert f'File "{directory / "broken.html"}", line 3' in response.text
    assert "{% if x %}{{ x }}{% endfi %}" in response.text


def test_an_error_is_not_cached_once_fixed(client: Client, templates: WriteTemplates) -> None:
    directory = templates({})
    test_client = client(make(directory))
    assert test_client.get("/").status_code == 500
    (directory / "missing.html").write_text("here now")
    assert test_client.get("/").text == "here now"


@pytest.mark.parametrize("how", [{"block_plugins": ["templates"]}, {"plugins": ["sessions"]}])
def test_without_the_plugin_rendering_raises_with_the_install_hint(
    client: Client, caplog: pytest.LogCaptureFixture, how: dict[str, list[str]]
) -> None:
    app = Site(**how)  # type: ignore[arg-type]
    assert "templates" not in app.plugins.active_names()
    with pytest.raises(RuntimeError, match="pip install micropie-templates"):
        asyncio.run(app._render_template("missing.html"))
    with caplog.at_level(logging.ERROR, logger="micropie"):
        response = client(app).get("/")
    assert response.status_code == 500
    assert "pip install micropie-templates" not in response.text
    assert "pip install micropie-templates" in caplog.text


def test_preload_fails_the_startup_on_a_broken_template(templates: WriteTemplates) -> None:
    directory = templates({"ok.html": "fine", "broken.html": BROKEN})
    app = Site(plugins=["templates"],
               config={"templates": {"directory": str(directory), "preload": True}})
    with pytest.raises(RuntimeError, match="Application startup failed"), TestClient(app):
        pass
