"""The ``templates`` plugin: hook implementations, found through the ``micropie`` entry point."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from micropie_core import App, Setting, hookimpl

from ._context import context_contributors
from ._paths import (
    build_loader,
    check_directory,
    check_packages,
    resolve_directories,
    searched_places,
)
from .renderer import TemplateRenderer

if TYPE_CHECKING:
    import jinja2

logger = logging.getLogger("micropie.templates")

#: File extensions whose templates are autoescaped (``page.html``, ``feed.xml``, ``x.jinja``).
AUTOESCAPE_EXTENSIONS = ("html", "htm", "xhtml", "xml", "svg", "jinja", "jinja2", "j2")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _check_names(kind: str, need_callable: bool) -> Callable[[Mapping[Any, Any]], str | None]:
    def check(value: Mapping[Any, Any]) -> str | None:
        for key, item in value.items():
            if not isinstance(key, str) or not key.isidentifier():
                return f"expected {kind} names that are identifiers, found {key!r}"
            if need_callable and not callable(item):
                return f"expected a callable for {kind} {key!r}, found {type(item).__name__}"
        return None

    return check


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("templates", "directory", (str, os.PathLike, list, tuple, type(None)), None,
                "Template directory or list of directories. Relative paths are looked up "
                "beside the module defining the App subclass, then in the working "
                "directory. Default: 'templates'.", check=check_directory),
        Setting("templates", "packages", (list, tuple), (),
                "Packages holding templates, as 'package' or 'package:folder' "
                "(folder defaults to 'templates'); searched after the directories.",
                check=check_packages),
        Setting("templates", "globals", Mapping, _EMPTY,
                "Names available in every template (values, functions, async functions).",
                check=_check_names("global", need_callable=False)),
        Setting("templates", "filters", Mapping, _EMPTY,
                "Extra Jinja2 filters: {name: function}.",
                check=_check_names("filter", need_callable=True)),
        Setting("templates", "auto_reload", (bool, type(None)), None,
                "Reload templates whose files changed (checked in a thread on each render). "
                "None: on when App(debug=True)."),
        Setting("templates", "enable_async", bool, True,
                "Jinja2's async mode: templates may call async functions and Jinja2 awaits "
                "them. Off renders about 1.5x faster, but async functions are not awaited."),
        Setting("templates", "preload", bool, False,
                "Compile every template at startup (in a thread); a broken template then "
                "fails the startup instead of a request."),
    ]


@hookimpl
def app_created(app: App) -> None:
    settings = app.config["templates"]
    directories = resolve_directories(app, settings["directory"])
    packages = settings["packages"]
    # Jinja2 is imported when the environment is built (at startup, in a thread),
    # not by App(); configured packages are checked now, so a bad one fails here.
    loader = build_loader(directories, packages) if packages else None
    auto_reload = settings["auto_reload"]
    if auto_reload is None:
        auto_reload = bool(app.debug)

    def make_environment() -> jinja2.Environment:
        import jinja2

        environment = jinja2.Environment(
            loader=loader or build_loader(directories, packages),
            autoescape=jinja2.select_autoescape(AUTOESCAPE_EXTENSIONS,
                                                default_for_string=True),
            enable_async=settings["enable_async"],
            cache_size=-1,
            # Reload checks run in TemplateCache, off the event loop; Jinja2's own would not.
            auto_reload=False,
        )
        environment.globals.update(settings["globals"])
        environment.filters.update(settings["filters"])
        return environment

    app._micropie_templates = TemplateRenderer(  # type: ignore[attr-defined]
        app, make_environment, searched_places(directories, packages), auto_reload,
    )


@hookimpl
async def startup(app: App) -> None:
    renderer: TemplateRenderer = app._micropie_templates  # type: ignore[attr-defined]
    await renderer.start()
    if app.config["templates"]["preload"]:
        count = await renderer.preload()
        logger.info("Preloaded %d templates from %s", count, "; ".join(renderer.searched))


@hookimpl
def template_renderer(app: App) -> Callable[[str, dict[str, Any]], Awaitable[str]]:
    renderer: TemplateRenderer = app._micropie_templates  # type: ignore[attr-defined]
    # Resolved here rather than in app_created: a plugin may register its
    # template_context hook object from its own app_created (app.plugins.register).
    renderer.contributors = context_contributors(app)
    return renderer
