"""Plugin discovery, selection, configuration and loading errors.

A throwaway distribution with a ``micropie`` entry point is really installed
(``pip install --target``) into a temporary directory put on ``sys.path``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from micropie_core import App, ConfigError, PluginError, Setting, hookimpl
from micropie_core.plugins import available_plugins
from micropie_core.testing import TestClient

PLUGIN_MODULE = '''
from micropie_core import Setting, hookimpl

@hookimpl
def register_settings():
    return [
        Setting("greeter", "greeting", str, "Hello", "What to say."),
        Setting("greeter", "times", int, 1, "How often."),
    ]

@hookimpl
def app_created(app):
    app.greeter_config = dict(app.config["greeter"])

@hookimpl
def process_response(app, response):
    section = app.config["greeter"]
    response.headers.append(("X-Greeting", section["greeting"] * section["times"]))
'''

BROKEN_MODULE = "import a_module_that_does_not_exist_anywhere\n"


def _install(tmp: Path, name: str, module: str, source: str) -> None:
    project = tmp / f"src-{name}"
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(source)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "1.2.3"
        [project.entry-points.micropie]
        {name.removeprefix("micropie-test-")} = "{module}"
        [tool.setuptools]
        packages = ["{module}"]
    """))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(tmp / "site"), str(project)],
        check=True, capture_output=True,
    )


@pytest.fixture(scope="module")
def installed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("plugins")
    _install(tmp, "micropie-test-greeter", "greeter_plugin", PLUGIN_MODULE)
    _install(tmp, "micropie-test-broken", "broken_plugin", BROKEN_MODULE)
    return tmp / "site"


@pytest.fixture
def with_plugins(installed_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(installed_site))
    monkeypatch.delenv("MICROPIE_PLUGINS", raising=False)
    yield
    for name in ("greeter_plugin", "broken_plugin"):
        sys.modules.pop(name, None)


class Site(App):
    async def index(self) -> str:
        return "hi"


@pytest.mark.usefixtures("with_plugins")
def test_installed_plugin_is_discovered_and_configured() -> None:
    app = Site(block_plugins=["broken"],
               config={"greeter": {"greeting": "Hey", "times": 2}})
    assert "greeter" in app.plugins.active_names()
    assert app.greeter_config == {"greeting": "Hey", "times": 2}  # type: ignore[attr-defined]
    with TestClient(app) as c:
        assert c.get("/").headers["x-greeting"] == "HeyHey"
    infos = {info.name: info for info in available_plugins()}
    assert infos["greeter"].distribution == "micropie-test-greeter"
    assert infos["greeter"].version == "1.2.3"


@pytest.mark.usefixtures("with_plugins")
def test_defaults_fill_in_missing_keys() -> None:
    app = Site(plugins=["greeter"])
    assert app.config["greeter"] == {"greeting": "Hello", "times": 1}


@pytest.mark.usefixtures("with_plugins")
def test_plugins_list_and_env_var_disable_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Site(plugins=[]).plugins.active_names() == []
    monkeypatch.setenv("MICROPIE_PLUGINS", "")
    assert Site().plugins.active_names() == []
    monkeypatch.setenv("MICROPIE_PLUGINS", "greeter, sessions")
    assert Site().plugins.active_names() == ["sessions", "greeter"]
    with TestClient(Site(plugins=["sessions"])) as c:
        assert "x-greeting" not in c.get("/").headers


@pytest.mark.usefixtures("with_plugins")
def test_config_for_a_disabled_plugin_is_an_error() -> None:
    with pytest.raises(ConfigError, match="section 'greeter' that no active plugin"):
        Site(plugins=[], config={"greeter": {"greeting": "x"}})


@pytest.mark.usefixtures("with_plugins")
def test_unknown_key_and_bad_type_name_plugin_and_key() -> None:
    with pytest.raises(ConfigError) as info:
        Site(block_plugins=["broken"], config={"greeter": {"greetin": "x"}})
    message = str(info.value)
    assert "'greetin'" in message and "greeter" in message and "Did you mean 'greeting'" in message
    with pytest.raises(ConfigError, match=r"greeter.times \(plugin 'greeter'\) expects int"):
        Site(block_plugins=["broken"], config={"greeter": {"times": "2"}})
    with pytest.raises(ConfigError, match="Did you mean 'greeter'"):
        Site(block_plugins=["broken"], config={"greeterr": {}})


@pytest.mark.usefixtures("with_plugins")
def test_plugin_that_fails_to_import_is_reported_clearly() -> None:
    with pytest.raises(PluginError) as info:
        Site()
    message = str(info.value)
    assert "Plugin 'broken'" in message
    assert "micropie-test-broken" in message
    assert "a_module_that_does_not_exist_anywhere" in message
    assert "pip install" in message and "block_plugins" in message


@pytest.mark.usefixtures("with_plugins")
def test_unknown_plugin_name_suggests_the_right_one() -> None:
    expected = r"'greetr', which is not installed\. Did you mean 'greeter'"
    with pytest.raises(PluginError, match=expected):
        Site(plugins=["greetr"])


def test_misspelled_hook_fails_at_construction() -> None:
    class Typo:
        @hookimpl
        def startpu(self) -> None:
            pass

    with pytest.raises(PluginError, match="startpu"):
        Site(plugins=[Typo()])


def test_wrong_hook_argument_names_the_plugin() -> None:
    class BadArgs:
        @hookimpl
        def startup(self, application: object) -> None:
            pass

    with pytest.raises(PluginError, match="application"):
        Site(plugins=[BadArgs()])


def test_plugins_argument_must_be_a_list() -> None:
    with pytest.raises(TypeError, match=r"plugins=\['sessions'\]"):
        Site(plugins="sessions")


def test_each_app_has_its_own_plugin_manager() -> None:
    first, second = Site(plugins=[]), Site()
    assert first.plugins.manager is not second.plugins.manager
    assert first.plugins.active_names() == []
    assert "sessions" in second.plugins.active_names()


def test_unimplemented_per_request_hooks_cost_nothing() -> None:
    app = Site(plugins=[])
    assert app._prepare_request is None
    assert app._process_response is None
    assert app._error_response is None


def test_two_plugins_declaring_the_same_key_is_an_error() -> None:
    class First:
        @hookimpl
        def register_settings(self) -> list[Setting]:
            return [Setting("shared", "colour", str, "red", "first plugin's colour")]

    class Second:
        @hookimpl
        def register_settings(self) -> list[Setting]:
            return [Setting("shared", "colour", str, "blue", "second plugin's colour")]

    with pytest.raises(ConfigError, match=r"both declare the config key shared\.colour"):
        Site(plugins=[First(), Second()])


def test_a_bad_config_value_error_shows_the_value_and_what_the_key_is_for() -> None:
    with pytest.raises(ConfigError) as info:
        App(config={"sessions": {"ttl": 0}})
    assert str(info.value) == (
        "Config sessions.ttl (plugin 'core') got 0: must be positive. "
        "(ttl: Seconds of inactivity before a session expires (sliding).)")
    with pytest.raises(ConfigError) as info:
        App(config={"sessions": {"ttl": "1h"}})
    assert str(info.value) == (
        "Config sessions.ttl (plugin 'core') expects int, got str '1h'. "
        "(ttl: Seconds of inactivity before a session expires (sliding).)")


def test_plugin_objects_are_named_after_their_class_or_module_in_errors() -> None:
    class Second:
        @hookimpl
        def register_settings(self) -> list[Setting]:
            return [Setting("sessions", "ttl", int, 1, "clashes with the core's key")]

    with pytest.raises(ConfigError, match=r"Plugins 'core' and 'Second' both declare"):
        Site(plugins=[Second()])


@pytest.mark.parametrize("thing", [3, object(), b"sessions"])
def test_a_plugin_object_without_hooks_is_an_error(thing: object) -> None:
    with pytest.raises(PluginError, match=r"which implements no hook\. Expected a plugin name"):
        Site(plugins=["sessions", thing])


def test_a_plugin_claiming_http_is_told_which_scopes_it_may_take() -> None:
    class Greedy:
        @hookimpl
        def register_scope_handlers(self) -> dict[str, object]:
            return {"http": object()}

    with pytest.raises(ConfigError, match=r"Plugin 'Greedy' tried to take the 'http' scope.*"
                       r"other scope types only, such as 'websocket'"):
        Site(plugins=[Greedy()])
