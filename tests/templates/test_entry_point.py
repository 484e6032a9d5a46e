"""Once installed, the distribution is found through the ``micropie`` entry point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

import pytest

from micropie_core import App
from micropie_core.plugins import available_plugins
from micropie_core.testing import TestClient
from tests.templates.conftest import WriteTemplates

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return await self._render_template("index.html", who="<entry point>")


def test_entry_point_is_registered() -> None:
    (entry_point,) = [ep for ep in entry_points(group="micropie") if ep.name == "templates"]
    assert entry_point.value == "micropie_templates.plugin"
    assert entry_point.dist is not None
    assert entry_point.dist.metadata["Name"] == "micropie-templates"
    info = next(info for info in available_plugins() if info.name == "templates")
    assert (info.distribution, info.module) == ("micropie-templates",
                                                "micropie_templates.plugin")


def test_app_without_plugins_argument_activates_it(
    client: Client, templates: WriteTemplates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MICROPIE_PLUGINS", raising=False)
    directory = templates({"index.html": "Hello {{ who }}"})
    app = Site(config={"templates": {"directory": str(directory)}})
    assert "templates" in app.plugins.active_names()
    assert client(app).get("/").text == "Hello &lt;entry point&gt;"


def test_env_var_selects_it_by_name(
    client: Client, templates: WriteTemplates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MICROPIE_PLUGINS", "templates")
    directory = templates({"index.html": "Hi"})
    app = Site(config={"templates": {"directory": str(directory)}})
    assert app.plugins.active_names() == ["templates"]
    assert client(app).get("/").text == "Hi"


LAZY_PROBE = """
import asyncio, sys
from micropie_core import App
app = App(plugins=["templates"], config={"templates": {"directory": sys.argv[1]}})
print("jinja2" in sys.modules)
print(asyncio.run(app._render_template("hi.html", who="<b>")))
print("jinja2" in sys.modules)
"""


def test_app_construction_does_not_import_jinja2(templates: WriteTemplates) -> None:
    # Every App() loads the plugin through its entry point; Jinja2 (tens of ms to
    # import) waits until the environment is built at startup or first render.
    directory = templates({"hi.html": "Hi {{ who }}"})
    result = subprocess.run([sys.executable, "-c", LAZY_PROBE, str(directory)],
                            capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.splitlines() == ["False", "Hi &lt;b&gt;", "True"]
