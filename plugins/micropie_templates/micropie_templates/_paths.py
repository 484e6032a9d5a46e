"""Where templates are found: directories beside the app's module, and packages."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from micropie_core import App, ConfigError

if TYPE_CHECKING:
    import jinja2

DEFAULT_DIRECTORY = "templates"


def app_root(app: App) -> Path | None:
    """The directory of the module that defines ``type(app)``, if it has a file."""
    module = sys.modules.get(type(app).__module__)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve().parent if filename else None


def _as_list(configured: Any) -> list[str]:
    if configured is None:
        return [DEFAULT_DIRECTORY]
    if isinstance(configured, (str, os.PathLike)):
        return [os.fspath(configured)]
    return [os.fspath(entry) for entry in configured]


def resolve_directories(app: App, configured: Any) -> list[str]:
    """Absolute template directories, in search order.

    A relative entry is looked up beside the app's module first, then in the
    working directory; the first that exists is used. A configured directory
    that exists in neither place is a :class:`ConfigError`. The default
    (``templates``) may be missing — an app need not use templates — and then
    both candidates stay in the search list, so the error for a missing
    template names them.
    """
    root = app_root(app)
    cwd = Path.cwd()
    found: list[str] = []
    for entry in _as_list(configured):
        path = Path(entry).expanduser()
        candidates = [path] if path.is_absolute() else [
            base / path for base in (root, cwd) if base is not None
        ]
        candidates = list(dict.fromkeys(c.resolve() for c in candidates))
        existing = [c for c in candidates if c.is_dir()]
        if existing:
            found.append(str(existing[0]))
        elif configured is None:
            found.extend(str(c) for c in candidates)
        else:
            tried = " or ".join(str(c) for c in candidates)
            raise ConfigError(
                f"Config templates.directory (plugin 'templates'): expected an existing "
                f"directory, found no {entry!r} at {tried}. Create it, or give an absolute "
                "path or one relative to the module that defines your App subclass."
            )
    return list(dict.fromkeys(found))


def check_directory(value: Any) -> str | None:
    """``Setting.check`` for ``templates.directory``: a path, a list of paths, or None."""
    if value is None:
        return None  # the default: "templates"
    entries = [value] if isinstance(value, (str, os.PathLike)) else value
    for entry in entries:
        if not isinstance(entry, (str, os.PathLike)) or not os.fspath(entry):
            return f"expected a path or a list of paths, found {entry!r} in the list"
    return None


def check_packages(value: Sequence[Any]) -> str | None:
    """``Setting.check`` for ``templates.packages``: ``"pkg"`` or ``"pkg:folder"`` strings."""
    for entry in value:
        if not isinstance(entry, str) or not entry.partition(":")[0]:
            return (f"expected strings like 'mypackage' or 'mypackage:templates', "
                    f"found {entry!r}")
    return None


def package_loaders(packages: Sequence[str]) -> list[tuple[str, jinja2.BaseLoader]]:
    """One ``PackageLoader`` per ``"pkg[:folder]"`` entry, with a description of it."""
    import jinja2  # here, not at import: a plugin module loaded by App() stays light

    loaders: list[tuple[str, jinja2.BaseLoader]] = []
    for entry in packages:
        package, folder = _package_and_folder(entry)
        try:
            loader = jinja2.PackageLoader(package, folder)
        except (ImportError, ValueError) as exc:
            raise ConfigError(
                f"Config templates.packages (plugin 'templates'): expected package "
                f"{package!r} to be importable and to contain a {folder!r} folder, "
                f"found: {exc}. Install the package or fix the entry {entry!r}."
            ) from None
        loaders.append((_describe(package, folder), loader))
    return loaders


def _package_and_folder(entry: str) -> tuple[str, str]:
    package, _, folder = entry.partition(":")
    return package, folder or DEFAULT_DIRECTORY


def _describe(package: str, folder: str) -> str:
    return f"package {package!r} (folder {folder!r})"


def searched_places(directories: list[str], packages: Sequence[str]) -> list[str]:
    """A human-readable list of the places the loader searches, in order."""
    return [*directories, *(_describe(*_package_and_folder(entry)) for entry in packages)]


def build_loader(directories: list[str], packages: Sequence[str]) -> jinja2.BaseLoader:
    """The Jinja2 loader for these directories, then these packages."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if directories:
        loaders.append(jinja2.FileSystemLoader(directories))
    loaders.extend(loader for _, loader in package_loaders(packages))
    if len(loaders) == 1:
        return loaders[0]
    return jinja2.ChoiceLoader(loaders)
