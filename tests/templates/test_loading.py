"""Where templates come from, and that loading them stays off the event loop."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from micropie_templates import environment

from micropie_core import App
from micropie_core.testing import TestClient
from tests.templates.conftest import WriteTemplates

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return await self._render_template("index.html")

    async def child(self) -> str:
        return await self._render_template("child.html", title="T")


def test_default_directory_is_beside_the_app_module(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "templates").mkdir(parents=True)
    (project / "templates" / "index.html").write_text("beside the module")
    (project / "site_module.py").write_text(
        "from micropie_core import App\n\n"
        "class ModuleSite(App):\n"
        "    async def index(self):\n"
        "        return await self._render_template('index.html')\n"
    )
    spec = importlib.util.spec_from_file_location("site_module", project / "site_module.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "site_module", module)
    spec.loader.exec_module(module)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "templates").mkdir(parents=True)
    (elsewhere / "templates" / "index.html").write_text("from the working directory")
    monkeypatch.chdir(elsewhere)
    assert client(module.ModuleSite(plugins=["templates"])).get("/").text == "beside the module"


def test_default_falls_back_to_the_working_directory(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This test module's folder has no templates/ directory.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text("from the working directory")
    monkeypatch.chdir(tmp_path)
    assert client(Site(plugins=["templates"])).get("/").text == "from the working directory"


def test_missing_default_directory_lists_both_candidates(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    response = client(Site(plugins=["templates"])).get("/")
    assert response.status_code == 500
    beside = Path(__file__).resolve().parent / "templates"
    assert f"Searched: {beside}; {tmp_path.resolve() / 'templates'}." in caplog.text


def test_directory_none_means_the_default(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text("default directory")
    monkeypatch.chdir(tmp_path)
    app = Site(plugins=["templates"], config={"templates": {"directory": None}})
    assert client(app).get("/").text == "default directory"


def test_relative_directory_resolves_beside_the_module_then_cwd(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "index.html").write_text("views")
    monkeypatch.chdir(tmp_path)
    app = Site(plugins=["templates"], config={"templates": {"directory": "views"}})
    assert client(app).get("/").text == "views"


def test_several_directories_are_searched_in_order(client: Client, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory, text in ((first, "first"), (second, "second")):
        directory.mkdir()
        (directory / "index.html").write_text(text)
    (second / "base.html").write_text("[{% block b %}{% endblock %}]")
    (first / "child.html").write_text("{% extends 'base.html' %}{% block b %}{{ title }}"
                                      "{% endblock %}")
    app = Site(plugins=["templates"],
               config={"templates": {"directory": [str(first), second]}})
    test_client = client(app)
    assert test_client.get("/").text == "first"
    assert test_client.get("/child").text == "[T]"


@pytest.fixture
def template_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = "micropie_test_theme"
    package = tmp_path / "packages" / name
    (package / "templates").mkdir(parents=True)
    (package / "layouts").mkdir()
    (package / "__init__.py").write_text("")
    (package / "templates" / "index.html").write_text("from the package")
    (package / "layouts" / "child.html").write_text("layout {{ title }}")
    monkeypatch.syspath_prepend(str(tmp_path / "packages"))
    yield name
    sys.modules.pop(name, None)


def test_templates_from_packages(client: Client, template_package: str,
                                 templates: WriteTemplates) -> None:
    directory = templates({"child.html": "directory wins over packages"})
    app = Site(plugins=["templates"], config={"templates": {
        "directory": [], "packages": [template_package, f"{template_package}:layouts"]}})
    test_client = client(app)
    assert test_client.get("/").text == "from the package"
    assert test_client.get("/child").text == "layout T"
    app = Site(plugins=["templates"], config={"templates": {
        "directory": str(directory), "packages": [template_package]}})
    assert client(app).get("/child").text == "directory wins over packages"


def test_missing_template_with_packages_names_them(
    client: Client, template_package: str, caplog: pytest.LogCaptureFixture
) -> None:
    packages = [f"{template_package}:layouts"]
    app = Site(plugins=["templates"],
               config={"templates": {"directory": [], "packages": packages}})
    assert client(app).get("/").status_code == 500
    assert (f"Searched: package '{template_package}' (folder 'layouts')."
            in caplog.text)


class RecordingLoader(jinja2.BaseLoader):
    """Wraps a loader and notes which thread asked for which template."""

    def __init__(self, inner: jinja2.BaseLoader) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        self.calls.append((template, threading.get_ident()))
        return self.inner.get_source(environment, template)

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


TREE = {
    "base.html": "<main>{% block content %}{% endblock %}</main>{% include 'footer.html' %}",
    "footer.html": "{% import 'macros.html' as m %}{{ m.small('footer') }}",
    "macros.html": "{% macro small(x) %}<small>{{ x }}</small>{% endmacro %}",
    "child.html": "{% extends 'base.html' %}{% block content %}{{ title }}{% endblock %}",
}


def test_templates_load_in_a_worker_thread_and_then_come_from_the_cache(
    templates: WriteTemplates,
) -> None:
    app = Site(plugins=["templates"],
               config={"templates": {"directory": str(templates(TREE))}})
    env = environment(app)
    assert env.loader is not None
    recorder = RecordingLoader(env.loader)
    env.loader = recorder

    async def scenario() -> tuple[int, list[str]]:
        async with TestClient(app) as test_client:
            texts = [(await test_client.aget("/child")).text for _ in range(3)]
        assert texts == ["<main>T</main><small>footer</small>"] * 3
        return threading.get_ident(), texts

    loop_thread, _ = asyncio.run(scenario())
    loaded = {name for name, _ in recorder.calls}
    assert loaded == {"child.html", "base.html", "footer.html", "macros.html"}
    assert all(thread != loop_thread for _, thread in recorder.calls)
    # Later requests found everything compiled: no second load of any template.
    assert len(recorder.calls) == 2 * len(loaded)  # read once to compile, once to scan


def test_concurrent_first_requests_share_one_load(templates: WriteTemplates) -> None:
    directory = str(templates(TREE))

    def loads(concurrent: int) -> int:
        app = Site(plugins=["templates"], config={"templates": {"directory": directory}})
        env = environment(app)
        assert env.loader is not None
        recorder = env.loader = RecordingLoader(env.loader)

        async def scenario() -> None:
            async with TestClient(app) as test_client:
                responses = await asyncio.gather(
                    *(test_client.aget("/child") for _ in range(concurrent)))
            assert {r.status_code for r in responses} == {200}

        asyncio.run(scenario())
        return len(recorder.calls)

    assert loads(50) == loads(1)


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize(("options", "reloads"), [
    ({"auto_reload": True}, True),
    ({"auto_reload": False}, False),
    ({}, False),
    ({"debug": True}, True),
    ({"debug": True, "auto_reload": False}, False),
])
def test_auto_reload(client: Client, templates: WriteTemplates, options: dict[str, Any],
                     reloads: bool) -> None:
    directory = templates({"base.html": "[{% block b %}{% endblock %}]",
                           "child.html": "{% extends 'base.html' %}{% block b %}v1{% endblock %}"})
    debug = options.pop("debug", False)
    app = Site(plugins=["templates"], debug=debug,
               config={"templates": {"directory": str(directory), **options}})
    test_client = client(app)
    assert test_client.get("/child").text == "[v1]"
    _touch(directory / "base.html", "({% block b %}{% endblock %})")
    assert test_client.get("/child").text == ("(v1)" if reloads else "[v1]")


def test_preload_compiles_everything_at_startup(templates: WriteTemplates) -> None:
    app = Site(plugins=["templates"],
               config={"templates": {"directory": str(templates(TREE)), "preload": True}})
    env = environment(app)
    assert env.loader is not None
    recorder = env.loader = RecordingLoader(env.loader)
    with TestClient(app) as test_client:
        startup_loads = len(recorder.calls)
        assert test_client.get("/child").status_code == 200
    assert startup_loads == 2 * len(TREE)
    assert len(recorder.calls) == startup_loads
