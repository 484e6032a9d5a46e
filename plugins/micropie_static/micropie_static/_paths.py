"""Which file a URL names: safe segments, configured roots, containment by resolved path.

Every refusal here becomes the same 404 as a missing file, so a client cannot
tell a file that exists but is refused from one that does not exist.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from micropie_core import App, ConfigError

# Names Windows maps to devices in any directory, with or without an extension
# ("nul.txt" is the NUL device too). Refused on every platform, so an app behaves
# the same wherever it is deployed.
_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{kind}{n}" for kind in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")}
)


def safe_segments(relative: str) -> list[str] | None:
    """The path segments of ``relative`` (already percent-decoded), or ``None`` if unsafe.

    Refused: empty, ``.`` and ``..`` segments (so no traversal, however it was
    encoded: the server decoded ``%2e%2e%2f`` to ``../`` before we see it), NUL,
    backslashes and colons (Windows separators, drive letters, NTFS streams),
    names starting with a dot (``.env``, ``.git``), names ending in a dot or a
    space (Windows drops those, so ``a.txt.`` would open ``a.txt``) and
    Windows device names.
    """
    if "\0" in relative or "\\" in relative or ":" in relative:
        return None
    segments = relative.split("/")
    for segment in segments:
        if not segment or segment[0] == "." or segment[-1] in ". ":
            return None
        stem = segment.split(".", 1)[0].rstrip(" ").upper()
        if stem in _DEVICE_NAMES:
            return None
    return segments


def app_root(app: App) -> Path | None:
    """The directory of the module that defines ``type(app)``, if it has a file."""
    module = sys.modules.get(type(app).__module__)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve().parent if filename else None


def resolve_roots(app: App, directories: Any, package: str | None) -> list[str]:
    """Absolute, symlink-resolved directories to serve from, in search order.

    A relative directory is looked up beside the module that defines the App
    subclass, then in the working directory. ``package`` is ``"pkg"`` (its
    ``static`` folder) or ``"pkg:folder"``, and must be installed as files on
    disk (not inside a zip).
    """
    entries: list[str] = []
    if directories is not None:
        entries = ([os.fspath(directories)] if isinstance(directories, (str, os.PathLike))
                   else [os.fspath(entry) for entry in directories])
    base = app_root(app)
    cwd = Path.cwd()
    roots: list[str] = []
    for entry in entries:
        path = Path(entry).expanduser()
        candidates = [path] if path.is_absolute() else [
            b / path for b in (base, cwd) if b is not None
        ]
        existing = [c.resolve() for c in candidates if c.is_dir()]
        if not existing:
            tried = " or ".join(str(c) for c in candidates)
            raise ConfigError(
                f"Config static.directories (plugin 'static'): expected an existing "
                f"directory, found no {entry!r} at {tried}. Create it, or give an absolute "
                "path or one relative to the module that defines your App subclass."
            )
        roots.append(str(existing[0]))
    if package is not None:
        roots.append(_package_root(package))
    return list(dict.fromkeys(roots))


def _package_root(spec: str) -> str:
    name, _, folder = spec.partition(":")
    folder = folder or "static"
    try:
        traversable = resources.files(name).joinpath(folder)
    except (ImportError, TypeError) as exc:
        raise ConfigError(
            f"Config static.package (plugin 'static'): expected an importable package, "
            f"found {name!r}, which fails to import ({exc}). Install it, or fix the name."
        ) from None
    path = Path(str(traversable))
    if not path.is_dir():
        raise ConfigError(
            f"Config static.package (plugin 'static'): expected a folder {folder!r} inside "
            f"package {name!r} on disk, found none at {path}. Create it (and list it in the "
            "package data), or name the folder with 'package:folder'."
        )
    return str(path.resolve())


def check_directories(value: Any) -> str | None:
    """``Setting.check`` for ``static.directories``: a path or a list of paths (or None)."""
    if value is None:
        return None
    entries = [value] if isinstance(value, (str, os.PathLike)) else value
    if not entries:
        return "expected at least one directory"
    for entry in entries:
        if not isinstance(entry, (str, os.PathLike)) or not os.fspath(entry):
            return f"expected a path or a list of paths, found {entry!r} in the list"
    return None


def check_prefix(value: str) -> str | None:
    """``Setting.check`` for ``static.prefix``: ``/static``-like, not ``/`` itself."""
    segments = value.split("/")[1:]
    if not value.startswith("/") or value.endswith("/") or safe_segments("/".join(segments)) \
            is None:
        return "expected a URL path such as '/static' (leading slash, no trailing slash, " \
               "no '.' or '..' segments)"
    return None


class Found:
    """An opened file: descriptor, ``os.stat_result``, and its resolved path."""

    __slots__ = ("fd", "path", "stat")

    def __init__(self, fd: int, path: str, stat_result: os.stat_result) -> None:
        self.fd = fd
        self.path = path
        self.stat = stat_result


IS_DIRECTORY = "directory"


def open_file(roots: Sequence[str], segments: list[str], follow_symlinks: bool
              ) -> Found | str | None:
    """Open the first regular file the segments name under one of ``roots``.

    Returns a :class:`Found` (the caller closes ``fd``), :data:`IS_DIRECTORY`
    when the first match is a directory, or ``None``. Blocking: call it in a
    worker thread. Containment is checked on the resolved path: a symlink
    leading outside its root is refused unless ``follow_symlinks``.
    """
    for root in roots:
        candidate = os.path.join(root, *segments)
        real = os.path.realpath(candidate)
        if not follow_symlinks and not (real == root or real.startswith(root + os.sep)):
            continue
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            result = os.fstat(fd)
        except OSError:
            os.close(fd)
            continue
        if stat.S_ISREG(result.st_mode):
            return Found(fd, real, result)
        os.close(fd)
        if stat.S_ISDIR(result.st_mode):
            return IS_DIRECTORY
        # FIFOs, sockets and devices are never served (a FIFO would block a reader).
    return None


def find_file(roots: Sequence[str], segments: list[str], follow_symlinks: bool
              ) -> tuple[str, os.stat_result] | None:
    """The resolved path and ``stat`` of the regular file the segments name, without opening it."""
    for root in roots:
        real = os.path.realpath(os.path.join(root, *segments))
        if not follow_symlinks and not real.startswith(root + os.sep):
            continue
        try:
            result = os.stat(real)
        except OSError:
            continue
        if stat.S_ISREG(result.st_mode):
            return real, result
        if stat.S_ISDIR(result.st_mode):
            return None
    return None
