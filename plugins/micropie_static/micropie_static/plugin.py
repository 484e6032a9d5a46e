"""The ``static`` plugin: hook implementations, found through the ``micropie`` entry point."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from micropie_core import App, Setting, hookimpl
from micropie_core.types import ASGIApp

from ._paths import check_directories, check_prefix, resolve_roots, safe_segments
from ._ranges import MAX_RANGES
from .files import StaticFiles
from .site import StaticSite, site_of


def _check_index(value: str | None) -> str | None:
    if value is None or (safe_segments(value) is not None and "/" not in value):
        return None
    return "expected a file name such as 'index.html' (no slash, not starting with a dot)"


def _check_package(value: str | None) -> str | None:
    if value is None:
        return None
    name, _, folder = value.partition(":")
    if not all(part.isidentifier() for part in name.split(".")) or (
            folder and safe_segments(folder) is None):
        return "expected 'package' or 'package:folder', e.g. 'mytheme:assets'"
    return None


@hookimpl
def register_settings() -> list[Setting]:
    return [
        Setting("static", "directories", (str, os.PathLike, list, tuple, type(None)), None,
                "Directory or list of directories to serve, searched in order. Relative "
                "paths are looked up beside the module defining the App subclass, then in "
                "the working directory. Default: 'static', unless 'package' is given.",
                check=check_directories),
        Setting("static", "package", (str, type(None)), None,
                "Serve a package's data: 'package' (its 'static' folder) or "
                "'package:folder'; searched after the directories.", check=_check_package),
        Setting("static", "prefix", str, "/static", "URL path the files are served under.",
                check=check_prefix),
        Setting("static", "follow_symlinks", bool, False,
                "Serve files reached through symlinks that lead outside the directories."),
        Setting("static", "index", (str, type(None)), None,
                "File served for a directory URL ending in '/', e.g. 'index.html'; the "
                "URL without the slash redirects to it. None: directories are 404.",
                check=_check_index),
        Setting("static", "max_age", (int, type(None)), None,
                "Send 'Cache-Control: public, max-age=N' (seconds). None: 'public, no-cache', "
                "so clients revalidate each time (a 304 when unchanged).",
                check=lambda v: None if v is None or v >= 0 else "must be 0 or more"),
        Setting("static", "cache_control", (str, type(None)), None,
                "The exact Cache-Control value to send; wins over max_age.",
                check=lambda v: None if v is None or (v.isascii() and v.isprintable())
                else "must be printable ASCII"),
        Setting("static", "max_ranges", int, MAX_RANGES,
                "Most byte ranges honoured in one Range header; more and the whole file "
                "is sent.", check=lambda v: None if v >= 1 else "must be 1 or more"),
    ]


@hookimpl
def app_created(app: App) -> None:
    if "static" not in app.config.given:
        return  # not configured: no wrapper, nothing on the request path
    settings: Mapping[str, Any] = app.config["static"]
    directories = settings["directories"]
    if directories is None and settings["package"] is None:
        directories = "static"
    roots = resolve_roots(app, directories, settings["package"])
    app._micropie_static = StaticSite(roots, settings)  # type: ignore[attr-defined]


# trylast: the innermost wrapper. Static files are an endpoint, not a filter, so every
# other wrapper (proxy headers, CORS for cross-origin fonts, compression) sees them.
@hookimpl(trylast=True)
def register_asgi_middleware(app: App) -> list[Callable[[ASGIApp], ASGIApp]] | None:
    site = site_of(app)
    if site is None:
        return None
    return [lambda inner: StaticFiles(inner, app, site)]


@hookimpl
def shutdown(app: App) -> None:
    site = site_of(app)
    if site is not None:
        site.close()


@hookimpl
def template_context(app: App) -> Mapping[str, Any] | None:
    site = site_of(app)
    return None if site is None else site.template_globals
