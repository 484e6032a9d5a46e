"""One app's static files: where they are, how they are cached, and ``static_url``."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from micropie_core import App, current_request

from ._paths import find_file, safe_segments

#: Types for web assets, fixed here rather than read from the system's mime.types,
#: so a file gets the same Content-Type on every machine the app runs on.
WEB_TYPES: Mapping[str, str] = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css",
    ".js": "text/javascript", ".mjs": "text/javascript", ".txt": "text/plain",
    ".csv": "text/csv", ".md": "text/markdown", ".xml": "application/xml",
    ".json": "application/json", ".map": "application/json",
    ".webmanifest": "application/manifest+json", ".wasm": "application/wasm",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".avif": "image/avif", ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
    ".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
}
#: Worker threads for file lookups and reads (see ``StaticSite.executor``).
THREADS = 32
_HASH_LENGTH = 12  # hex digits of SHA-256: 48 bits, plenty to tell two versions apart


def content_type_for(path: str) -> str:
    """The ``Content-Type`` of a file by its extension; text types say ``charset=utf-8``."""
    extension = os.path.splitext(path)[1].lower()
    media_type = WEB_TYPES.get(extension) or mimetypes.guess_type(
        "x" + extension, strict=False)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith(("+xml", "/xml")):
        return f"{media_type}; charset=utf-8"
    return media_type


class StaticSite:
    """The ``static`` configuration of one app, checked and resolved at construction.

    Reach it through :func:`micropie_static.site_of`. ``url_for(name)`` is the
    cache-busting URL helper behind :func:`micropie_static.static_url`.
    """

    def __init__(self, roots: list[str], settings: Mapping[str, Any]) -> None:
        self.roots = roots
        self.prefix: str = settings["prefix"]
        self.follow_symlinks: bool = settings["follow_symlinks"]
        self.index: str | None = settings["index"]
        self.max_ranges: int = settings["max_ranges"]
        cache_control: str | None = settings["cache_control"]
        if cache_control is None:
            max_age = settings["max_age"]
            # "public": the same for everyone (so micropie-compress may compress it for
            # signed-in users too); "no-cache": revalidate each use, a cheap 304, so a
            # deployment is never hidden behind a heuristically cached old file.
            cache_control = "public, no-cache" if max_age is None else \
                f"public, max-age={max_age}"
        self.cache_control: str = cache_control
        self.cache_control_header = cache_control.encode("latin-1")
        self._types: dict[str, bytes] = {}
        self._hashes: dict[str, tuple[int, int, str]] = {}
        self.template_globals: Mapping[str, Any] = {"static_url": self.url_for}
        self._executor: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        """The threads that look files up and read them, started on first use.

        The plugin's own pool, not the event loop's default one (a handful of
        threads, shared with everything else the app runs in threads): when the
        files are not in the page cache, reads wait on the disk, and more of them
        in flight keep the server busy. Shut down with the app.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(THREADS, thread_name_prefix="micropie-static")
        return self._executor

    def close(self) -> None:
        """Stop the threads (the app is shutting down); a later request starts new ones."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def content_type(self, path: str) -> bytes:
        """:func:`content_type_for`, cached per extension."""
        extension = os.path.splitext(path)[1].lower()
        found = self._types.get(extension)
        if found is None:
            found = content_type_for(path).encode("latin-1")
            if len(self._types) < 1024:
                self._types[extension] = found
        return found

    def url_for(self, name: str) -> str:
        """``/static/app.css?v=<hash>``: the URL of static file ``name`` with its content hash.

        The hash changes whenever the file's content does, so the URL can be
        cached for ever (``max_age``) and a new deployment is still fetched.
        The digest is kept per file and recomputed only when its size or
        modification time changes (one ``stat`` per call). Raises
        ``FileNotFoundError`` naming the directories searched when no
        servable file has that name.
        """
        segments = safe_segments(name.lstrip("/"))
        found = None if segments is None else find_file(self.roots, segments,
                                                        self.follow_symlinks)
        if found is None or segments is None:
            raise FileNotFoundError(
                f"static_url({name!r}): expected a file under {', '.join(self.roots)}, "
                "found none (or a name the static plugin refuses to serve, such as one "
                "starting with a dot). Check the spelling and static.directories."
            )
        path, result = found
        cached = self._hashes.get(path)
        if cached is not None and cached[:2] == (result.st_mtime_ns, result.st_size):
            digest = cached[2]
        else:
            with open(path, "rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()[:_HASH_LENGTH]
            self._hashes[path] = (result.st_mtime_ns, result.st_size, digest)
        return f"{self.prefix}/{quote('/'.join(segments))}?v={digest}"


def site_of(app: App) -> StaticSite | None:
    """The app's :class:`StaticSite`, or ``None`` when the static plugin is not configured."""
    site: StaticSite | None = getattr(app, "_micropie_static", None)
    return site


def static_url(name: str, app: App | None = None) -> str:
    """The cache-busting URL of static file ``name``: ``/static/app.css?v=3f2a9c0d1b4e``.

    Templates call it as ``{{ static_url("app.css") }}``. From Python, pass the
    app, or call it while a request is handled and the request's app is used.
    """
    if app is None:
        try:
            app = current_request.get().app
        except LookupError:
            app = None
        if app is None:
            raise RuntimeError(
                "static_url(name) outside a request needs the app: static_url(name, app)."
            )
    site = site_of(app)
    if site is None:
        raise RuntimeError(
            f"static_url({name!r}): the static plugin is not configured for this app. "
            "Configure it: App(config={'static': {'directories': 'static'}})."
        )
    return site.url_for(name)
