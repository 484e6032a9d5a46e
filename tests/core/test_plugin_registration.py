"""Plugins that stay off until configured: ``app.config.given`` and ``app.plugins.register``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from micropie_core import App, PluginError, Request, Setting, hookimpl
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]


class Site(App):
    async def index(self) -> str:
        return "home"


class Stamp:
    """A per-app hook object: adds a header with the configured value."""

    def __init__(self, value: str) -> None:
        self.value = value

    @hookimpl
    def process_response(self, response: Any) -> None:
        response.headers.append(("X-Stamp", self.value))


class StampPlugin:
    """Registers a Stamp only for apps whose config has a 'stamp' section."""

    @staticmethod
    @hookimpl
    def register_settings() -> list[Setting]:
        return [Setting("stamp", "value", str, "on", "The header value.")]

    @staticmethod
    @hookimpl
    def app_created(app: App) -> None:
        if "stamp" in app.config.given:
            app.plugins.register(Stamp(app.config["stamp"]["value"]), "stamp.hooks")


def test_config_given_names_the_sections_passed_even_empty() -> None:
    app = Site(plugins=[StampPlugin], config={"stamp": {}})
    assert app.config.given == {"stamp"}
    assert app.config["stamp"] == {"value": "on"}
    assert Site(plugins=[StampPlugin]).config.given == frozenset()


def test_a_plugin_registers_its_per_request_hooks_only_when_configured(client: Client) -> None:
    off = Site(plugins=[StampPlugin])
    assert off._process_response is None  # nothing per request: the fast path stays
    assert "x-stamp" not in client(off).get("/").headers
    on = Site(plugins=[StampPlugin], config={"stamp": {"value": "yes"}})
    assert client(on).get("/").headers["x-stamp"] == "yes"
    assert "stamp.hooks" in on.plugins.active_names()
    assert "stamp.hooks" not in Site(plugins=[StampPlugin]).plugins.active_names()


def test_register_is_refused_after_app_created() -> None:
    app = Site(plugins=[StampPlugin])
    with pytest.raises(PluginError, match="Register plugin objects from an app_created hook"):
        app.plugins.register(Stamp("late"), "late.hooks")


def _registering(plugin: object, name: str) -> object:
    class Registers:
        @staticmethod
        @hookimpl
        def app_created(app: App) -> None:
            app.plugins.register(plugin, name)

    return Registers


def test_register_refuses_an_object_without_hooks_and_a_name_in_use() -> None:
    with pytest.raises(PluginError, match="implements no hook"):
        Site(plugins=[_registering(object(), "empty")])
    with pytest.raises(PluginError, match="already registered"):
        Site(plugins=["sessions", _registering(Stamp("x"), "sessions")])


def test_register_refuses_a_misspelled_hook() -> None:
    class Typo:
        @hookimpl
        def prepare_requests(self, request: Request) -> None:
            pass

    with pytest.raises(PluginError, match="does not exist"):
        Site(plugins=[_registering(Typo(), "typo")])


def test_micropie_plugins_shows_a_registered_object_as_such() -> None:
    from micropie_core.introspection import describe_plugins

    rows = {row["name"]: row for row in describe_plugins(
        Site(plugins=[StampPlugin], config={"stamp": {}}).plugins)}
    assert rows["stamp.hooks"]["distribution"] == "(registered by a plugin)"
    assert rows["stamp.hooks"]["hooks"] == ["process_response"]
    assert rows["StampPlugin"]["distribution"] == "(object in App(plugins=[...]))"
